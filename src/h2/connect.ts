/**
 * connect-node's routes served on this package's HTTP/2 streams (session.ts): the same universal
 * handlers `connectNodeAdapter` runs for Node's HTTP servers (gRPC, gRPC-Web and Connect, every
 * method), given a request built from the stream and their response written back to it — what
 * the adapter's universalRequestFromNodeRequest / universalResponseToNodeResponse do for Node's
 * request and response objects.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { H2Code, type H2Headers, type H2Stream } from "./session.js";

/** Serves a stream with the handler for its path (404 when none). */
export function connectStreamHandler(
  handlers: readonly UniversalHandler[],
  onError?: (e: unknown, handler: UniversalHandler) => void,
): (stream: H2Stream, headers: H2Headers) => void {
  const paths = new Map<string, UniversalHandler>();
  for (const h of handlers) paths.set(h.requestPath, h);
  return (stream, headers) => {
    const pathAndQuery = headers[":path"] as string;
    const q = pathAndQuery.indexOf("?");
    const handler = paths.get(q < 0 ? pathAndQuery : pathAndQuery.slice(0, q));
    stream.on("error", ignore);
    if (handler === undefined) {
      stream.respond({ ":status": 404 }, { endStream: true });
      return;
    }
    const ac = new AbortController();
    let finished = false;
    stream.once("close", () => {
      if (finished) return;
      ac.abort(
        stream.rstCode === H2Code.NO_ERROR || stream.rstCode === H2Code.CANCEL
          ? new ConnectError("operation canceled", Code.Canceled)
          : new ConnectError(`stream reset with HTTP/2 code ${stream.rstCode}`, Code.Canceled),
      );
    });
    const header = new Headers();
    for (const k of Object.keys(headers)) {
      // Pseudo fields are not headers; names HTTP/2 allows but the Fetch Headers class refuses
      // (not an RFC 9110 token, e.g. "x(y") are dropped rather than failing the call.
      if (k.charCodeAt(0) === 0x3a || !TOKEN.test(k)) continue;
      const v = headers[k];
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const x of v) header.append(k, x);
      else header.append(k, v);
    }
    const authority =
      (headers[":authority"] as string | undefined) ?? (headers.host as string | undefined) ?? "localhost";
    const scheme = headers[":scheme"] as string;
    handler({
      httpVersion: "2.0",
      method: headers[":method"] as string,
      url: `${scheme === "https" ? "https" : "http"}://${authority}${pathAndQuery}`,
      header,
      body: bodyOf(stream),
      signal: ac.signal,
    })
      .then((res) => writeResponse(stream, res))
      .then(
        () => {
          finished = true;
        },
        (e: unknown) => {
          finished = true;
          if (!stream.destroyed) stream.close(H2Code.INTERNAL_ERROR);
          if (ConnectError.from(e).code !== Code.Aborted) onError?.(e, handler);
        },
      );
  };
}

function ignore(): void {}

/** An RFC 9110 token (what Headers accepts as a name). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/** The request body as the handler reads it; the client is held back while it does not. */
function bodyOf(stream: H2Stream): AsyncIterable<Uint8Array> {
  const chunks: Buffer[] = [];
  let ended = false;
  let reset = false;
  let wake: (() => void) | undefined;
  stream.autoAck = false;
  stream.on("data", (c: Buffer) => {
    chunks.push(c);
    wake?.();
  });
  stream.once("end", () => {
    ended = true;
    wake?.();
  });
  stream.once("close", () => {
    if (!ended) reset = true;
    wake?.();
  });
  return {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const c = chunks.shift();
        if (c !== undefined) {
          stream.consumed(c.length);
          yield c;
          continue;
        }
        if (ended) return;
        if (reset) throw new ConnectError("request stream reset", Code.Canceled);
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    },
  };
}

function toRecord(
  h: Headers | undefined,
  into: Record<string, string | number>,
): Record<string, string | number> {
  h?.forEach((v, k) => {
    into[k] = v;
  });
  return into;
}

/** The response: headers after the body's first chunk (as connect-node does), body, trailers. */
async function writeResponse(stream: H2Stream, res: UniversalServerResponse): Promise<void> {
  const it = res.body?.[Symbol.asyncIterator]();
  try {
    let chunk = it === undefined ? undefined : await it.next();
    if (stream.destroyed) return;
    const trailers = res.trailer === undefined ? undefined : toRecord(res.trailer, {});
    const withTrailers = trailers !== undefined && Object.keys(trailers).length > 0;
    stream.respond(toRecord(res.header, { ":status": res.status }), { waitForTrailers: withTrailers });
    if (withTrailers) stream.once("wantTrailers", () => stream.sendTrailers(trailers));
    for (; chunk !== undefined && chunk.done !== true; chunk = await it!.next()) {
      if (stream.destroyed) return;
      if (!stream.write(chunk.value)) await drained(stream);
    }
    stream.end();
  } finally {
    await it?.return?.().catch(ignore);
  }
}

function drained(stream: H2Stream): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off("drain", done);
      stream.off("close", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("close", done);
  });
}
