/**
 * Client side of the CLI: a gRPC transport to a gosymd server and `gosymd symbolize --server`.
 */
import { createReadStream, readFileSync, statSync } from "node:fs";
import { create, toJson } from "@bufbuild/protobuf";
import { type Client, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type ErrorKind, GosymdError } from "../bytes/errors.js";
import {
  type AttributeCoreRequest,
  AttributeCoreRequestSchema,
  type AttributeCoreResponse,
  type AttributeOptions,
  type AttributeResponse,
} from "../gen/gosymd/v1/attribute_pb.js";
import type { BinaryRef } from "../gen/gosymd/v1/binary_pb.js";
import type { ProfileCompression, SymbolizeProfileResponse } from "../gen/gosymd/v1/profile_pb.js";
import {
  AddressKind,
  type Location,
  LocationSchema,
  type SymbolizeBatch,
  SymbolizeBatchSchema,
  SymbolizerService,
} from "../gen/gosymd/v1/symbolizer_pb.js";
import { addressTokens, parseAddress, parseBase } from "./addresses.js";
import { EXIT } from "./io.js";
import { locationJson } from "./json.js";

export interface ClientTls {
  /** CA bundle to trust (PEM file). */
  ca?: string;
  /** Client certificate and key (PEM files) for mTLS. */
  cert?: string;
  key?: string;
}

/** A SymbolizerService client over gRPC (HTTP/2; h2c for http:// URLs, TLS for https://). */
export function connect(
  server: string,
  tls: ClientTls = {},
  readMaxBytes = 256 * 1024 * 1024,
): Client<typeof SymbolizerService> {
  let url: URL;
  try {
    url = new URL(server.includes("://") ? server : `http://${server}`);
  } catch {
    throw new GosymdError("invalid_argument", `--server: not a URL: ${JSON.stringify(server)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new GosymdError("invalid_argument", `--server: use http:// or https://, not ${url.protocol}`);
  }
  const nodeOptions =
    url.protocol === "https:"
      ? {
          ...(tls.ca ? { ca: readFileSync(tls.ca) } : {}),
          ...(tls.cert ? { cert: readFileSync(tls.cert) } : {}),
          ...(tls.key ? { key: readFileSync(tls.key) } : {}),
        }
      : {};
  const transport = createGrpcTransport({
    baseUrl: url.origin + url.pathname.replace(/\/+$/, ""),
    nodeOptions,
    readMaxBytes,
  });
  return createClient(SymbolizerService, transport);
}

/** gRPC code name (from a ConnectError) → our error kind, for exit codes and hints. */
export function kindOfCode(code: number): ErrorKind {
  switch (code) {
    case 3:
      return "invalid_argument";
    case 5:
      return "not_found";
    case 8:
      return "limit_exceeded";
    case 1:
      return "cancelled";
    case 4:
      return "deadline_exceeded";
    case 14:
      return "unavailable";
    default:
      return "internal";
  }
}

/** A failed call as a GosymdError the CLI can report. */
export function fromRpcError(e: unknown, server: string): GosymdError {
  if (e instanceof GosymdError) return e;
  const ce = ConnectError.from(e);
  const kind = kindOfCode(ce.code);
  return new GosymdError(kind, `${server}: ${ce.rawMessage}`, {
    cause: e,
    ...(kind === "unavailable" ? { hint: "is the server running? (gosymd serve)" } : {}),
  });
}

export interface RemoteSymbolizeOptions {
  server: string;
  buildId: string | undefined;
  json: boolean;
  base: string | undefined;
  returnAddresses: boolean;
  printAddresses: boolean;
  addresses: string[];
  tls?: ClientTls;
  /** Addresses per request (default 10 000). */
  batchSize?: number;
}

/**
 * Every request that concerns one binary carries its build ID in this header, so a load balancer
 * in front of several replicas can hash on it (build-ID affinity: each binary's decoded tables
 * stay hot in one replica's cache). See deploy/README.md.
 */
export const AFFINITY_HEADER = "gosymd-build-id";

/** `gosymd symbolize --server URL --build-id ID [ADDR...]`: same output as the local command. */
export async function remoteSymbolize(o: RemoteSymbolizeOptions): Promise<number> {
  if (o.buildId === undefined || o.buildId === "") {
    throw new GosymdError("invalid_argument", "--build-id ID is required with --server", {
      hint: "any of the binary's IDs: GNU build ID, Go build ID, Mach-O UUID or sha256:HEX (see `gosymd info`)",
    });
  }
  let base: bigint | undefined;
  if (o.base !== undefined) {
    base = parseBase(o.base);
    if (base === undefined)
      throw new GosymdError("invalid_argument", `--base: not a hex number: ${JSON.stringify(o.base)}`);
  }
  const client = connect(o.server, o.tls);
  const size = o.batchSize ?? 10_000;
  const buildId = o.buildId;
  const batch = (addresses: bigint[]): SymbolizeBatch =>
    create(SymbolizeBatchSchema, {
      binary: { ref: { case: "buildId", value: buildId } },
      returnAddresses: o.returnAddresses,
      addresses,
      ...(base !== undefined ? { addressKind: AddressKind.RUNTIME, loadBase: base } : {}),
    });
  let pending: string[] = [];
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const toks = pending;
    pending = [];
    const parsed = toks.map((t) => parseAddress(t));
    const valid = parsed.filter((p) => p.value !== undefined).map((p) => p.value!);
    let locs: Location[] = [];
    if (valid.length > 0) {
      let res: Awaited<ReturnType<typeof client.symbolize>>;
      try {
        res = await client.symbolize(
          { batches: [batch(valid)] },
          { headers: { [AFFINITY_HEADER]: buildId } },
        );
      } catch (e) {
        throw fromRpcError(e, o.server);
      }
      const r = res.results[0];
      if (!r) throw new GosymdError("internal", `${o.server}: empty response`);
      if (r.status && r.status.code !== 0) {
        throw new GosymdError(kindOfCode(r.status.code), `${o.server}: ${r.status.message}`);
      }
      locs = r.locations;
    }
    let k = 0;
    const out: string[] = [];
    for (const p of parsed) {
      if (p.value === undefined) {
        if (o.json) {
          out.push(
            `${JSON.stringify(locationJson(undefined, p.text, { frames: [], reason: "invalid_address", detail: `not an address: ${JSON.stringify(p.text)}` }))}\n`,
          );
        } else {
          if (o.printAddresses) out.push(`${p.text}\n`);
          out.push("?\n?:0\n");
        }
        continue;
      }
      const loc = locs[k++];
      if (!loc) throw new GosymdError("internal", `${o.server}: fewer locations than addresses`);
      if (o.json) {
        out.push(`${JSON.stringify(toJson(LocationSchema, loc))}\n`);
        continue;
      }
      if (o.printAddresses) out.push(`0x${p.value.toString(16)}\n`);
      if (loc.frames.length === 0) out.push("?\n?:0\n");
      for (const f of loc.frames) out.push(`${f.function}\n${f.file === "" ? "?" : f.file}:${f.line}\n`);
    }
    if (!process.stdout.write(out.join(""))) await new Promise((r) => process.stdout.once("drain", r));
  };
  const take = async (tok: string) => {
    pending.push(tok);
    if (pending.length >= size) await flush();
  };
  if (o.addresses.length > 0) {
    for (const t of o.addresses) await take(t);
  } else {
    process.stdin.setEncoding("utf8");
    let carry = "";
    for await (const chunk of process.stdin) {
      const text = carry + (chunk as string);
      const nl = text.lastIndexOf("\n");
      if (nl < 0) {
        carry = text;
        if (carry.length > 1 << 20) throw new GosymdError("invalid_argument", "stdin line longer than 1 MiB");
        continue;
      }
      carry = text.slice(nl + 1);
      for (const t of addressTokens(text.slice(0, nl))) await take(t);
      // Interactive use: answer what arrived without waiting for a full batch.
      await flush();
    }
    for (const t of addressTokens(carry)) await take(t);
  }
  await flush();
  return EXIT.ok;
}

/** The options, the binary and the server of a remote attribution. */
export interface RemoteAttributeOptions {
  server: string;
  tls?: ClientTls;
  binary?: BinaryRef["ref"];
  options: Omit<AttributeOptions, "$typeName" | "$unknown">;
}

/** `gosymd attribute --server URL FILE`: the Attribute RPC on crash text. */
export async function remoteAttribute(o: RemoteAttributeOptions, text: string): Promise<AttributeResponse> {
  const client = connect(o.server, o.tls);
  try {
    return await client.attribute(
      {
        input: { case: "text", value: text },
        options: o.options,
        ...(o.binary ? { binary: { ref: o.binary } } : {}),
      },
      o.binary?.case === "buildId" ? { headers: { [AFFINITY_HEADER]: o.binary.value } } : {},
    );
  } catch (e) {
    throw fromRpcError(e, o.server);
  }
}

/** Core chunk size of AttributeCore streams. */
const CORE_CHUNK = 1 << 20;

/**
 * `gosymd attribute --server URL --core CORE`: streams the core file (never read whole) into
 * AttributeCore, the binary and options in the first message.
 */
export async function remoteAttributeCore(
  o: RemoteAttributeOptions,
  corePath: string,
): Promise<AttributeCoreResponse> {
  if (!o.binary) {
    throw new GosymdError("invalid_argument", "--core with --server needs --build-id ID or --binary FILE");
  }
  const client = connect(o.server, o.tls);
  let size: number;
  try {
    size = statSync(corePath).size;
  } catch (e) {
    throw new GosymdError("not_found", `--core: cannot read ${corePath}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const binary = o.binary;
  async function* messages(): AsyncGenerator<AttributeCoreRequest> {
    yield create(AttributeCoreRequestSchema, {
      binary: { ref: binary },
      options: o.options,
      coreSize: BigInt(size),
    });
    for await (const chunk of createReadStream(corePath, { highWaterMark: CORE_CHUNK })) {
      const b = chunk as Buffer;
      yield create(AttributeCoreRequestSchema, {
        chunk: new Uint8Array(b.buffer, b.byteOffset, b.byteLength),
      });
    }
  }
  try {
    return await client.attributeCore(messages());
  } catch (e) {
    throw fromRpcError(e, o.server);
  }
}

/** `gosymd pprof --server URL IN`: the SymbolizeProfile RPC. */
export async function remoteSymbolizeProfile(
  server: string,
  profile: Uint8Array,
  opts: { redo: boolean; compression: ProfileCompression; tls?: ClientTls },
): Promise<SymbolizeProfileResponse> {
  const client = connect(server, opts.tls, 0xffffffff);
  try {
    return await client.symbolizeProfile({ profile, redo: opts.redo, compression: opts.compression });
  } catch (e) {
    throw fromRpcError(e, server);
  }
}
