/** Runs `gosymd pprof` (src/cli/pprof.ts) as its own process, for the CLI tests. */
import { pprofCommand } from "../../src/cli/pprof.js";

process.exitCode = await pprofCommand(process.argv.slice(2));
