#!/usr/bin/env node
/** The `gosymd` command: a thin dispatcher over the subcommands. */
import { EXIT } from "./io.js";

const VERSION = "0.1.0";

const help = `gosymd — symbolize and attribute Go programs

Usage: gosymd <command> [options]

Commands:
  symbolize   addresses → function, file:line, with inlined frames (from a binary or a server)
  info        describe a Go binary: build IDs, Go version, pclntab, modules, build settings
  attribute   classify a crash or goroutine dump, find the culprit, fingerprint, group goroutines
  pprof       fill functions and lines (inlined frames too) into a bare pprof profile
  serve       run the gRPC / Connect / gRPC-Web service
  upload      send binaries to a gosymd server (skips the ones it already has)
  version     print the version

Run \`gosymd <command> --help\` for a command's options and examples.
`;

type Command = (argv: string[]) => Promise<number>;
const commands: Record<string, () => Promise<Command>> = {
  symbolize: async () => (await import("./symbolize.js")).symbolizeCommand,
  info: async () => (await import("./info.js")).infoCommand,
  attribute: async () => (await import("./attribute.js")).attributeCommand,
  serve: async () => (await import("./serve.js")).serveCommand,
  upload: async () => (await import("./upload.js")).uploadCommand,
  pprof: async () => (await import("./pprof.js")).pprofCommand,
};

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === "-h" || cmd === "--help" || cmd === "help") {
    process.stdout.write(help);
    return cmd === undefined ? EXIT.usage : EXIT.ok;
  }
  if (cmd === "version" || cmd === "--version") {
    process.stdout.write(`gosymd ${VERSION}\n`);
    return EXIT.ok;
  }
  const load = commands[cmd];
  if (!load) {
    process.stderr.write(`gosymd: unknown command ${JSON.stringify(cmd)}\n\n${help}`);
    return EXIT.usage;
  }
  return (await load())(rest);
}

/**
 * Waits for V8's background optimizing compiles to finish. A run can end while V8 still compiles
 * hot functions on a worker thread, and Node's exit path deadlocks when such a job needs a
 * garbage collection: the main thread waits for the job, the job for a main-thread GC
 * (nodejs/node#54918, still open for Node 20–26: the process hangs with all output written; seen
 * here in 1–10% of short runs). V8's own wait for those jobs parks the main thread, so a GC a job
 * asks for meanwhile is done. It is reached through V8's natives syntax, allowed just for this
 * call; where that is unavailable, the event loop is kept a moment instead (the jobs then finish
 * while the loop idles).
 */
async function settleBackgroundCompiles(): Promise<void> {
  try {
    const { setFlagsFromString } = await import("node:v8");
    setFlagsFromString("--allow-natives-syntax");
    new Function("%WaitForBackgroundOptimization()")();
  } catch {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

main(process.argv.slice(2)).then(
  async (code) => {
    process.exitCode = code;
    await settleBackgroundCompiles();
  },
  (e: unknown) => {
    process.stderr.write(`gosymd: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = EXIT.failure;
  },
);
