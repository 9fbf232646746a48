import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { toJson } from "@bufbuild/protobuf";
import { GosymdError } from "../bytes/errors.js";
import type { AttributeOptions } from "../crash/attribute.js";
import { attributeText } from "../crash/attribute.js";
import { renderReport } from "../crash/report.js";
import type { AttributeResult, BucketSimilarity } from "../crash/types.js";
import { type AttributeResponse, AttributeResponseSchema } from "../gen/gosymd/v1/attribute_pb.js";
import type { BinaryRef } from "../gen/gosymd/v1/binary_pb.js";
import { buildInfoContext } from "../rpc/context.js";
import { fromAttributeResponse, toAttributeResponse, toSimilarity } from "../rpc/crash-convert.js";
import { openBinaryFile } from "../symtab/index.js";
import { type RemoteAttributeOptions, remoteAttribute, remoteAttributeCore } from "./client.js";
import { EXIT, readStdin, reportError, usageError } from "./io.js";

export const attributeHelp = `Usage: gosymd attribute [options] [FILE|-]
       gosymd attribute --core CORE --binary BIN [options]
       gosymd attribute --server URL [--build-id ID | --binary BIN] [--core CORE | FILE|-]

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
                       in-app (main module), adds module@version and source links (vcs.revision);
                       with --server its bytes are sent along
  --core FILE          an ELF core dump of the program (needs --binary, or --build-id with
                       --server): goroutines are read from memory with the binary's pclntab
  --server URL         attribute on a gosymd server (Attribute / AttributeCore RPCs)
  --build-id ID        with --server: the binary by any of its build IDs (the server finds it in
                       its store or on debuginfod; see \`gosymd upload\`)
  --main-module PATH   in-app module path when no --binary is given
  --in-app PREFIX      extra in-app package prefix (repeatable)
  --rules FILE         YAML rules: match category/message/frames/counts → findings
  --owners FILE        CODEOWNERS-style "pattern team..." lines over package paths
  --similarity LEVEL   bucket goroutines by: exact | args (default; any argument values) | function
  --json               machine-readable output: the JSON form of gosymd.v1.AttributeResponse,
                       the same as the Attribute RPC answers
  -h, --help           this help

Examples:
  kubectl logs pod/api-7d9 --previous | gosymd attribute
  gosymd attribute --binary ./api --owners .github/CODEOWNERS crash.log
  gosymd attribute --core core.1234 --binary ./api --json
  gosymd attribute --server http://gosymd:50051 --build-id 3f2a... crash.log
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
        server: { type: "string" },
        "build-id": { type: "string" },
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
    const readInput = async () => {
      const file = positionals[0];
      return file === undefined || file === "-" ? await readStdin() : readText(file, "input");
    };

    if (v.server !== undefined) {
      if (v["build-id"] !== undefined && v.binary !== undefined)
        throw usageError("give --build-id or --binary, not both");
      let binary: BinaryRef["ref"] | undefined;
      if (v["build-id"] !== undefined) binary = { case: "buildId", value: v["build-id"] };
      else if (v.binary !== undefined) binary = { case: "contents", value: readBytes(v.binary, "--binary") };
      const remote: RemoteAttributeOptions = {
        server: v.server,
        options: {
          rules: typeof opts.rules === "string" ? opts.rules : "",
          owners: typeof opts.owners === "string" ? opts.owners : "",
          inAppPrefixes: opts.inAppPrefixes ?? [],
          mainModule: opts.mainModule ?? "",
          similarity: toSimilarity(opts.similarity),
        },
        ...(binary ? { binary } : {}),
      };
      const res =
        v.core !== undefined
          ? (await remoteAttributeCore(remote, v.core)).attribution
          : await remoteAttribute(remote, await readInput());
      if (!res) throw new GosymdError("internal", `${v.server}: empty response`);
      process.stdout.write(v.json ? printJson(res) : renderReport(fromAttributeResponse(res)));
      return EXIT.ok;
    }
    if (v["build-id"] !== undefined)
      throw usageError("--build-id needs --server (locally, use --binary FILE)");

    let buildId = "";
    if (v.binary !== undefined) {
      const ctx = binaryContext(v.binary);
      buildId = ctx.buildId;
      Object.assign(opts, ctx.options, v["main-module"] ? { mainModule: v["main-module"] } : {});
    }

    let result: AttributeResult;
    if (v.core !== undefined) {
      if (v.binary === undefined) throw usageError("--core needs --binary (the executable that dumped core)");
      const core = (await import("../core/index.js")) as {
        attributeCore: (core: string, bin: string, o: AttributeOptions) => AttributeResult;
      };
      result = core.attributeCore(v.core, v.binary, opts);
    } else {
      result = attributeText(await readInput(), opts);
    }
    process.stdout.write(v.json ? printJson(toAttributeResponse(result, buildId)) : renderReport(result));
    return EXIT.ok;
  } catch (e) {
    return reportError(e, "attribute");
  }
}

function printJson(res: AttributeResponse): string {
  return `${JSON.stringify(toJson(AttributeResponseSchema, res), null, 2)}\n`;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new GosymdError("not_found", `${what}: cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

function readBytes(path: string, what: string): Uint8Array {
  try {
    const b = readFileSync(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new GosymdError("not_found", `${what}: cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Main module, module versions and VCS revision from the binary's buildinfo (the helper the
 * Attribute RPCs use), and its canonical ID as the RPC reports it.
 */
export function binaryContext(path: string): { options: AttributeOptions; buildId: string } {
  const bin = openBinaryFile(path);
  bin.close();
  return { options: buildInfoContext(bin.info), buildId: `sha256:${bin.info.buildIds.sha256}` };
}
