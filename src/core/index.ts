/** Core dumps: every goroutine of a Go program's Linux ELF core, read with its binary's pclntab. */
export {
  type AttributeCoreOptions,
  attributeCore,
  attributeCoreSource,
  type CoreAttribution,
  coreGoroutines,
} from "./attribute.js";
export {
  type CorePsInfo,
  type CoreSigInfo,
  type CoreThread,
  type ElfCore,
  type MappedFile,
  openElfCore,
  type ThreadRegs,
} from "./elfcore.js";
export { goMinorOf, type RuntimeLayout, runtimeLayout, signalName } from "./layout.js";
export { CoreMemory } from "./memory.js";
export type { PanicInfo } from "./panic.js";
export {
  type CoreFrame,
  type CoreGoroutine,
  type CoreResult,
  type CoreThreadInfo,
  printName,
  type ReadCoreOptions,
  readCore,
  type StartContext,
  toCrashGoroutines,
} from "./read.js";
