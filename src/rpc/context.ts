/**
 * What a binary's build info tells crash attribution: the main module (in-app code), module
 * versions (module@version and source links of frames) and the VCS revision. Shared by the
 * Attribute RPCs and `gosymd attribute --binary`.
 */
import type { AttributeOptions } from "../crash/attribute.js";
import type { BinaryInfo } from "../symtab/api.js";

export type BuildInfoContext = Pick<AttributeOptions, "mainModule" | "modules" | "vcsRevision">;

/** Main module, module versions (main first, then dependencies) and vcs.revision, when recorded. */
export function buildInfoContext(info: BinaryInfo): BuildInfoContext {
  const bi = info.buildInfo;
  if (!bi) return {};
  const mods = [...(bi.main.path ? [bi.main] : []), ...bi.deps];
  const o: BuildInfoContext = { modules: mods.map((m) => ({ path: m.path, version: m.version })) };
  if (bi.main.path) o.mainModule = bi.main.path;
  const rev = bi.settings.find((s) => s.key === "vcs.revision")?.value;
  if (rev) o.vcsRevision = rev;
  return o;
}
