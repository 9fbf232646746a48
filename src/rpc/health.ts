/**
 * grpc.health.v1.Health: Check, List and Watch over a small status table. The server flips every
 * service to NOT_SERVING when it starts draining, so load balancers and probes stop sending.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  type Health,
  HealthCheckResponseSchema,
  HealthListResponseSchema,
  HealthCheckResponse_ServingStatus as Status,
} from "../gen/grpc/health/v1/health_pb.js";

export { Status as ServingStatus };

export class HealthState {
  private readonly statuses = new Map<string, Status>();
  private readonly watchers = new Set<() => void>();

  constructor(services: readonly string[]) {
    this.statuses.set("", Status.SERVING);
    for (const s of services) this.statuses.set(s, Status.SERVING);
  }

  get(service: string): Status | undefined {
    return this.statuses.get(service);
  }

  set(service: string, status: Status): void {
    this.statuses.set(service, status);
    for (const w of this.watchers) w();
  }

  setAll(status: Status): void {
    for (const k of this.statuses.keys()) this.statuses.set(k, status);
    for (const w of this.watchers) w();
  }

  entries(): [string, Status][] {
    return [...this.statuses];
  }

  /** Calls `fn` on every change until the returned function is called. */
  subscribe(fn: () => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }
}

export function createHealthService(state: HealthState): ServiceImpl<typeof Health> {
  return {
    check(req) {
      const s = state.get(req.service);
      if (s === undefined)
        throw new ConnectError(`unknown service ${JSON.stringify(req.service)}`, Code.NotFound);
      return create(HealthCheckResponseSchema, { status: s });
    },
    list() {
      const statuses: Record<string, { status: Status }> = {};
      for (const [k, v] of state.entries()) statuses[k] = { status: v };
      return create(HealthListResponseSchema, { statuses });
    },
    async *watch(req, ctx) {
      let changed: (() => void) | undefined;
      const unsubscribe = state.subscribe(() => changed?.());
      const aborted = new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        ctx.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      try {
        let last: Status | undefined;
        while (!ctx.signal.aborted) {
          const s = state.get(req.service) ?? Status.SERVICE_UNKNOWN;
          if (s !== last) {
            last = s;
            yield create(HealthCheckResponseSchema, { status: s });
          }
          await Promise.race([
            new Promise<void>((resolve) => {
              changed = resolve;
            }),
            aborted,
          ]);
        }
      } finally {
        unsubscribe();
      }
    },
  };
}
