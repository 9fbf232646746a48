/**
 * The one place where gosymd's error kinds become gRPC codes.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { type ErrorKind, type GosymdError, toGosymdError } from "../bytes/errors.js";

export function codeOf(kind: ErrorKind): Code {
  switch (kind) {
    case "not_executable":
    case "not_go":
    case "truncated":
    case "corrupt":
    case "unsupported":
    case "invalid_argument":
      return Code.InvalidArgument;
    case "limit_exceeded":
      return Code.ResourceExhausted;
    case "not_found":
      return Code.NotFound;
    case "unavailable":
      return Code.Unavailable;
    case "cancelled":
      return Code.Canceled;
    case "deadline_exceeded":
      return Code.DeadlineExceeded;
    case "internal":
      return Code.Internal;
  }
}

/** The message a client sees: what, where (in the GosymdError message already), and the hint. */
export function clientMessage(err: GosymdError): string {
  return err.hint ? `${err.message} (hint: ${err.hint})` : err.message;
}

/** Any thrown value as a ConnectError with the right code; the original is kept as `cause`. */
export function toConnectError(e: unknown): ConnectError {
  if (e instanceof ConnectError) return e;
  const err = toGosymdError(e);
  return new ConnectError(clientMessage(err), codeOf(err.kind), undefined, undefined, err);
}
