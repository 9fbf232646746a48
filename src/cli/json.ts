import { toJson } from "@bufbuild/protobuf";
import { LocationSchema } from "../gen/gosymd/v1/symbolizer_pb.js";
import { toLocation } from "../rpc/convert.js";
import type { Resolution } from "../symtab/index.js";

/**
 * `gosymd symbolize --json`: exactly the proto-JSON of `gosymd.v1.Location` (what Symbolize
 * answers for JSON clients): uint64 as decimal strings, enums by name, default values omitted.
 * A token that is not an address has no `address`; its `detail` names the token.
 */
export function locationJson(address: bigint | undefined, _text: string, res: Resolution): unknown {
  return toJson(LocationSchema, toLocation(address ?? 0n, res));
}
