import { GosymdError } from "../bytes/errors.js";
import type { ByteSource } from "../bytes/source.js";
import type { GoBinary, OpenOptions } from "./api.js";

// PLACEHOLDER until the pclntab/symtab implementation lands: same signatures.
export function openBinary(_source: ByteSource, _opts: OpenOptions = {}): GoBinary {
  throw new GosymdError("internal", "openBinary not implemented yet");
}
export function openBinaryFile(_path: string, _opts: OpenOptions = {}): GoBinary {
  throw new GosymdError("internal", "openBinaryFile not implemented yet");
}
