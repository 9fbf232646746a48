/**
 * Build ID aliases: every name a client may use for a binary, normalized into lookup keys.
 *
 * Keys (what the cache and the store index by):
 *   - GNU build ID and Mach-O UUID: lowercase hex without dashes ("9f2c…"),
 *   - Go build ID: as the toolchain prints it ("actionID/…/contentID"; case-sensitive),
 *   - content hash: "sha256:<lowercase hex>" (the canonical ID of a binary).
 */
import { GosymdError } from "../bytes/errors.js";
import type { BuildIds } from "../object/types.js";

/** Longest alias we accept from a client (a Go build ID is at most ~170 characters). */
export const MAX_ALIAS_LENGTH = 256;

const HEX = /^[0-9a-f]+$/;
const GO_BUILD_ID = /^[A-Za-z0-9_\-=+]+(\/[A-Za-z0-9_\-=+]+){1,3}$/;

/** The canonical ID of a binary: the SHA-256 of its bytes. */
export function canonicalId(sha256Hex: string): string {
  return `sha256:${sha256Hex.toLowerCase()}`;
}

/**
 * The lookup keys a client-supplied build ID may stand for, most specific first. A bare 64-digit
 * hex string may be a GNU build ID or a SHA-256, so it yields both keys. Throws
 * `invalid_argument` for anything that is not a build ID.
 */
export function aliasKeys(raw: string): string[] {
  const s = raw.trim();
  if (s.length === 0) throw new GosymdError("invalid_argument", "empty build ID");
  if (s.length > MAX_ALIAS_LENGTH) {
    throw new GosymdError(
      "invalid_argument",
      `build ID is ${s.length} characters long; at most ${MAX_ALIAS_LENGTH} are accepted`,
    );
  }
  const lower = s.toLowerCase();
  if (lower.startsWith("sha256:")) {
    const hex = lower.slice(7);
    if (hex.length !== 64 || !HEX.test(hex)) {
      throw new GosymdError(
        "invalid_argument",
        `bad build ID ${JSON.stringify(s)}: sha256: needs 64 hex digits`,
      );
    }
    return [`sha256:${hex}`];
  }
  const undashed = lower.replace(/-/g, "");
  if (/^[0-9a-f-]+$/.test(lower) && undashed.length > 0 && undashed.length % 2 === 0 && HEX.test(undashed)) {
    if (
      lower.includes("-") &&
      !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(lower)
    ) {
      throw new GosymdError("invalid_argument", `bad build ID ${JSON.stringify(s)}: dashes only in a UUID`);
    }
    return undashed.length === 64 ? [undashed, `sha256:${undashed}`] : [undashed];
  }
  if (GO_BUILD_ID.test(s)) return [s];
  throw new GosymdError(
    "invalid_argument",
    `bad build ID ${JSON.stringify(s)}: expected GNU build ID hex, a Go build ID (a/b), a Mach-O UUID or sha256:<hex>`,
  );
}

/** Is this key a hex build ID (GNU / Mach-O), i.e. something debuginfod can be asked for? */
export function isHexKey(key: string): boolean {
  return HEX.test(key);
}

/** Every key a binary with these IDs is indexed under (the canonical one first). */
export function binaryAliasKeys(ids: BuildIds): string[] {
  const keys = [canonicalId(ids.sha256)];
  if (ids.gnu) keys.push(ids.gnu.toLowerCase());
  if (ids.machoUuid) keys.push(ids.machoUuid.toLowerCase().replace(/-/g, ""));
  if (ids.go) keys.push(ids.go);
  return [...new Set(keys)];
}
