import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { GosymdError } from "../bytes/errors.js";
import type { AttributeOptions } from "../crash/attribute.js";
import { attributeText } from "../crash/attribute.js";
import { renderReport } from "../crash/report.js";
import type { AttributeResult, BucketSimilarity } from "../crash/types.js";
import { openBinaryFile } from "../symtab/index.js";
import { EXIT, readStdin, reportError, usageError } from "./io.js";

export const attributeHelp = `Usage: gosymd attribute [options] [FILE|-]
       gosymd attribute --core CORE --binary BIN [options]

Reads what a crashed or hung Go program left behind — panic or fatal-error output, a SIGQUIT
goroutine dump, a race report, a test timeout, a kernel OOM-kill line, as it appears in logs
(prefixes, JSON-escaped, CRLF and interleaved lines are fine), or an ELF core dump — and says
what happened, whose code did it, and whether it is the same as an earlier crash:

  category      nil dereference, index out of range, deadlock, concurrent map access, ...
  culprit       the frame to blame (innermost in-app frame, the caller of panic, the blocked site)
  fingerprint   stable across rebuilds, Go versions, line shifts, goroutine ids and arguments
  buckets       goroutines grouped by identical stacks, largest first
  findings      goroutine leaks, lock contention, unclosed HTTP bodies, ... with remediation

Reads FILE, or stdin when FILE is "-" or absent.

Options:
  --binary FILE        the crashed program's executable: its buildinfo decides which code is
                       in-app (main module), adds module@version and source links (vcs.revision)
  --core FILE          an ELF core dump of the program (needs --binary): goroutines are read
                       from memory with the binary's pclntab, no DWARF needed
  --main-module PATH   in-app module path when no --binary is given
  --in-app PREFIX      extra in-app package prefix (repeatable)
  --rules FILE         YAML rules: match category/message/frames/counts → findings
  --owners FILE        CODEOWNERS-style "pattern team..." lines over package paths
  --similarity LEVEL   bucket goroutines by: exact | args (default; any argument values) | function
  --json               machine-readable output (AttributeResponse as JSON)
  -h, --help           this help

Examples:
  kubectl logs pod/api-7d9 --previous | gosymd attribute
  gosymd attribute --binary ./api --owners .github/CODEOWNERS crash.log
  gosymd attribute --core core.1234 --binary ./api --json
`;

const SIMILARITY: Record<string, BucketSimilarity> = {
  exact: "BUCKET_SIMILARITY_EXACT",
  args: "BUCKET_SIMILARITY_ANY_ARGS",
  function: "BUCKET_SIMILARITY_FUNCTION",
};

export async function attributeCommand(argv: string[]): Promise<number> {
  try {
    const { values: v, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        binary: { type: "string" },
        core: { type: "string" },
        "main-module": { type: "string" },
        "in-app": { type: "string", multiple: true },
        rules: { type: "string" },
        owners: { type: "string" },
        similarity: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (v.help) {
      process.stdout.write(attributeHelp);
      return EXIT.ok;
    }
    const opts: AttributeOptions = {};
    if (v.rules !== undefined) opts.rules = readText(v.rules, "--rules");
    if (v.owners !== undefined) opts.owners = readText(v.owners, "--owners");
    if (v["in-app"] !== undefined) opts.inAppPrefixes = v["in-app"];
    if (v.similarity !== undefined) {
      const s = SIMILARITY[v.similarity];
      if (s === undefined)
        throw usageError(`--similarity must be one of ${Object.keys(SIMILARITY).join(", ")}`);
      opts.similarity = s;
    }
    if (v["main-module"] !== undefined) opts.mainModule = v["main-module"];
    if (v.binary !== undefined)
      Object.assign(opts, binaryContext(v.binary), v["main-module"] ? { mainModule: v["main-module"] } : {});

    let result: AttributeResult;
    if (v.core !== undefined) {
      if (v.binary === undefined) throw usageError("--core needs --binary (the executable that dumped core)");
      const core = (await import("../core/index.js")) as {
        attributeCore: (core: string, bin: string, o: AttributeOptions) => AttributeResult;
      };
      result = core.attributeCore(v.core, v.binary, opts);
    } else {
      const file = positionals[0];
      const text = file === undefined || file === "-" ? await readStdin() : readText(file, "input");
      result = attributeText(text, opts);
    }
    process.stdout.write(v.json ? `${JSON.stringify(result, null, 2)}\n` : renderReport(result));
    return EXIT.ok;
  } catch (e) {
    return reportError(e, "attribute");
  }
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new GosymdError("not_found", `${what}: cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** Main module, dependency versions and VCS revision from the binary's buildinfo. */
export function binaryContext(path: string): AttributeOptions {
  const bin = openBinaryFile(path);
  bin.close();
  const bi = bin.info.buildInfo;
  if (!bi) return {};
  const o: AttributeOptions = { modules: [...(bi.main.path ? [bi.main] : []), ...bi.deps] };
  if (bi.main.path) o.mainModule = bi.main.path;
  const rev = bi.settings.find((s) => s.key === "vcs.revision")?.value;
  if (rev) o.vcsRevision = rev;
  return o;
}
