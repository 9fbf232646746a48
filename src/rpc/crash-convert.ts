/**
 * Crash attribution results (src/crash/types.ts) → API messages (gosymd/v1/attribute.proto), and
 * the request options back. The domain enums are string unions spelled like the proto values, so
 * they map by name through the generated enum descriptors. Numbers from untrusted text are clamped
 * to their field's range (a hostile `main.go:99999999999` must not make encoding fail).
 */
import { create, type DescEnum } from "@bufbuild/protobuf";
import { GosymdError } from "../bytes/errors.js";
import type { AttributeOptions as EngineOptions } from "../crash/attribute.js";
import type {
  AttributeResult,
  CrashAttribution as EngineAttribution,
  Bucket as EngineBucket,
  StackFrame as EngineFrame,
  Goroutine as EngineGoroutine,
  SignalInfo as EngineSignal,
  BucketSimilarity as EngineSimilarity,
} from "../crash/types.js";
import {
  type AttributeOptions,
  type AttributeResponse,
  AttributeResponseSchema,
  type Bucket,
  BucketSchema,
  BucketSimilarity,
  BucketSimilaritySchema,
  type CrashAttribution,
  CrashAttributionSchema,
  CrashCategorySchema,
  CrashKindSchema,
  type Culprit,
  CulpritSchema,
  type Finding,
  FindingSchema,
  type Goroutine,
  GoroutineSchema,
  SeveritySchema,
  type SignalInfo,
  SignalInfoSchema,
  type StackFrame,
  StackFrameSchema,
} from "../gen/gosymd/v1/attribute_pb.js";

const U32 = 0xffffffff;
const U64_MAX = (1n << 64n) - 1n;
const I64_MAX = (1n << 63n) - 1n;

export function u32(n: number): number {
  if (!Number.isFinite(n) || n <= 0) return 0;
  return Math.min(Math.floor(n), U32);
}

function i32(n: number): number {
  if (!Number.isFinite(n)) return 0;
  return Math.max(-0x80000000, Math.min(Math.trunc(n), 0x7fffffff));
}

export function u64(n: number): bigint {
  if (!Number.isFinite(n) || n <= 0) return 0n;
  const b = BigInt(Math.floor(n));
  return b > U64_MAX ? U64_MAX : b;
}

function i64(n: number): bigint {
  if (!Number.isFinite(n)) return 0n;
  const b = BigInt(Math.trunc(n));
  return b > I64_MAX ? I64_MAX : b < -I64_MAX - 1n ? -I64_MAX - 1n : b;
}

const byName = new Map<DescEnum, Map<string, number>>();

/** The number of the enum value named `name` (the domain spells them like the proto). */
function enumNumber(schema: DescEnum, name: string): number {
  let m = byName.get(schema);
  if (!m) {
    m = new Map(schema.values.map((v) => [v.name, v.number]));
    byName.set(schema, m);
  }
  const n = m.get(name);
  if (n === undefined) throw new GosymdError("internal", `${schema.typeName} has no value ${name}`);
  return n;
}

export function toStackFrame(f: EngineFrame): StackFrame {
  const out = create(StackFrameSchema, {
    function: f.function,
    args: f.args,
    file: f.file,
    line: u32(f.line),
    inlined: f.inlined,
    packagePath: f.packagePath,
  });
  if (f.offset !== undefined) out.offset = u64(f.offset);
  if (f.pc !== undefined) out.pc = u64(f.pc);
  return out;
}

function toGoroutine(g: EngineGoroutine): Goroutine {
  const out = create(GoroutineSchema, {
    id: u64(g.id),
    state: g.state,
    waitReason: g.waitReason,
    status: g.status,
    waitMinutes: u32(g.waitMinutes),
    lockedToThread: g.lockedToThread,
    crashed: g.crashed,
    frames: g.frames.map(toStackFrame),
    createdByGoroutine: u64(g.createdByGoroutine ?? 0),
    labels: g.labels.map((l) => ({ key: l.key, value: l.value })),
    flags: g.flags,
    framesElided: i32(g.framesElided),
    stackUnavailable: g.stackUnavailable,
    sourceLine: u32(g.sourceLine),
  });
  if (g.createdBy) out.createdBy = toStackFrame(g.createdBy);
  if (g.m !== undefined) out.m = i64(g.m);
  return out;
}

function toSignal(s: EngineSignal): SignalInfo {
  const out = create(SignalInfoSchema, { name: s.name, description: s.description, duringCgo: s.duringCgo });
  if (s.code !== undefined) out.code = i64(s.code);
  if (s.addr !== undefined) out.addr = u64(s.addr);
  if (s.pc !== undefined) out.pc = u64(s.pc);
  if (s.m !== undefined) out.m = i64(s.m);
  return out;
}

function toBucket(b: EngineBucket): Bucket {
  const out = create(BucketSchema, {
    count: u32(b.count),
    state: b.state,
    waitReason: b.waitReason,
    lockedToThread: b.lockedToThread,
    frames: b.frames.map(toStackFrame),
    minWaitMinutes: u32(b.minWaitMinutes),
    maxWaitMinutes: u32(b.maxWaitMinutes),
    ids: b.ids.map(u64),
    idsDropped: u32(b.idsDropped),
    crashed: b.crashed,
  });
  if (b.createdBy) out.createdBy = toStackFrame(b.createdBy);
  return out;
}

function toCulprit(c: NonNullable<EngineAttribution["culprit"]>): Culprit {
  return create(CulpritSchema, {
    function: c.function,
    file: c.file,
    line: u32(c.line),
    packagePath: c.packagePath,
    modulePath: c.modulePath ?? "",
    moduleVersion: c.moduleVersion ?? "",
    inApp: c.inApp,
    owners: c.owners,
    sourceUrl: c.sourceUrl ?? "",
    goroutineId: u64(c.goroutineId),
    frameIndex: u32(c.frameIndex),
    reason: c.reason,
  });
}

function toFinding(f: EngineAttribution["findings"][number]): Finding {
  return create(FindingSchema, {
    ruleId: f.ruleId,
    severity: enumNumber(SeveritySchema, f.severity),
    title: f.title,
    detail: f.detail,
    remediation: f.remediation,
    evidenceBuckets: f.evidenceBuckets.map(u32),
  });
}

/** The fields shared by CrashAttribution and AttributeResponse (same names and numbers). */
function crashFields(a: EngineAttribution) {
  const out = {
    kind: enumNumber(CrashKindSchema, a.kind),
    category: enumNumber(CrashCategorySchema, a.category),
    message: a.message,
    messageTemplate: a.messageTemplate,
    panics: a.panics.map((p) => ({ message: p.message, recovered: p.recovered, repanicked: p.repanicked })),
    goVersion: { min: a.goVersion.min ?? "", max: a.goVersion.max ?? "", evidence: a.goVersion.evidence },
    fingerprint: a.fingerprint,
    fingerprintInputs: a.fingerprintInputs,
    goroutines: a.goroutines.map(toGoroutine),
    buckets: a.buckets.map(toBucket),
    findings: a.findings.map(toFinding),
    startLine: u32(a.startLine),
    endLine: u32(a.endLine),
    truncated: a.truncated,
  };
  return {
    ...out,
    ...(a.signal ? { signal: toSignal(a.signal) } : {}),
    ...(a.culprit ? { culprit: toCulprit(a.culprit) } : {}),
  };
}

export function toCrashAttribution(a: EngineAttribution): CrashAttribution {
  return create(CrashAttributionSchema, crashFields(a));
}

/**
 * The whole result. The primary crash's converted goroutines and buckets are shared between the
 * top-level fields and its entry in `crashes` (encoding writes them twice, as the domain has them).
 */
export function toAttributeResponse(r: AttributeResult, buildId = ""): AttributeResponse {
  const crashes = r.crashes.map(toCrashAttribution);
  const p = (r.primaryIndex >= 0 ? crashes[r.primaryIndex] : undefined) ?? toCrashAttribution(r);
  const out = create(AttributeResponseSchema, {
    kind: p.kind,
    category: p.category,
    message: p.message,
    messageTemplate: p.messageTemplate,
    panics: p.panics,
    goVersion: p.goVersion,
    fingerprint: p.fingerprint,
    fingerprintInputs: p.fingerprintInputs,
    goroutines: p.goroutines,
    buckets: p.buckets,
    findings: p.findings,
    startLine: p.startLine,
    endLine: p.endLine,
    truncated: p.truncated,
    primaryIndex: i32(r.primaryIndex),
    crashes,
    diagnostics: r.diagnostics.map((d) => ({ line: u32(d.line), reason: d.reason, excerpt: d.excerpt })),
    diagnosticsDropped: u32(r.diagnosticsDropped),
    stats: {
      inputBytes: u64(r.stats.inputBytes),
      lines: u32(r.stats.lines),
      inputTruncated: r.stats.inputTruncated,
      longLines: u32(r.stats.longLines),
      prefixesStripped: u32(r.stats.prefixesStripped),
      unescapedLines: u32(r.stats.unescapedLines),
    },
    buildId,
  });
  if (p.signal) out.signal = p.signal;
  if (p.culprit) out.culprit = p.culprit;
  return out;
}

const SIMILARITY: Record<BucketSimilarity, EngineSimilarity | undefined> = {
  [BucketSimilarity.UNSPECIFIED]: undefined,
  [BucketSimilarity.EXACT]: "BUCKET_SIMILARITY_EXACT",
  [BucketSimilarity.ANY_ARGS]: "BUCKET_SIMILARITY_ANY_ARGS",
  [BucketSimilarity.FUNCTION]: "BUCKET_SIMILARITY_FUNCTION",
};

/** Request options → engine options (empty strings mean "not given"). */
export function fromAttributeOptions(o: AttributeOptions | undefined): EngineOptions {
  const out: EngineOptions = {};
  if (!o) return out;
  if (o.rules !== "") out.rules = o.rules;
  if (o.owners !== "") out.owners = o.owners;
  if (o.inAppPrefixes.length > 0) out.inAppPrefixes = o.inAppPrefixes;
  if (o.mainModule !== "") out.mainModule = o.mainModule;
  if (!(o.similarity in SIMILARITY)) {
    throw new GosymdError("invalid_argument", `unknown bucket similarity ${o.similarity}`, {
      field: "options.similarity",
    });
  }
  const s = SIMILARITY[o.similarity];
  if (s !== undefined) out.similarity = s;
  return out;
}

/** Engine similarity → proto (for clients building requests from CLI flags). */
export function toSimilarity(s: EngineSimilarity | undefined): BucketSimilarity {
  return s === undefined ? BucketSimilarity.UNSPECIFIED : enumNumber(BucketSimilaritySchema, s);
}

// ---------------------------------------------------------------------------------------------
// API messages → domain results (clients: the CLI renders a server's answer like a local one).

function enumName<T extends string>(schema: DescEnum, n: number, fallback: T): T {
  return (schema.values.find((v) => v.number === n)?.name as T | undefined) ?? fallback;
}

function n64(b: bigint): number {
  return b > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(b);
}

export function fromStackFrame(f: StackFrame): EngineFrame {
  const out: EngineFrame = {
    function: f.function,
    args: f.args,
    file: f.file,
    line: f.line,
    inlined: f.inlined,
    packagePath: f.packagePath,
  };
  if (f.offset !== undefined) out.offset = n64(f.offset);
  if (f.pc !== undefined) out.pc = n64(f.pc);
  return out;
}

function fromGoroutine(g: Goroutine): EngineGoroutine {
  const out: EngineGoroutine = {
    id: n64(g.id),
    state: g.state,
    waitReason: g.waitReason,
    status: g.status,
    waitMinutes: g.waitMinutes,
    lockedToThread: g.lockedToThread,
    crashed: g.crashed,
    frames: g.frames.map(fromStackFrame),
    labels: g.labels.map((l) => ({ key: l.key, value: l.value })),
    flags: g.flags,
    framesElided: g.framesElided,
    stackUnavailable: g.stackUnavailable,
    sourceLine: g.sourceLine,
  };
  if (g.createdBy) out.createdBy = fromStackFrame(g.createdBy);
  if (g.createdByGoroutine !== 0n) out.createdByGoroutine = n64(g.createdByGoroutine);
  if (g.m !== undefined) out.m = Number(g.m);
  return out;
}

function fromSignal(s: SignalInfo): EngineSignal {
  const out: EngineSignal = { name: s.name, description: s.description, duringCgo: s.duringCgo };
  if (s.code !== undefined) out.code = Number(s.code);
  if (s.addr !== undefined) out.addr = n64(s.addr);
  if (s.pc !== undefined) out.pc = n64(s.pc);
  if (s.m !== undefined) out.m = Number(s.m);
  return out;
}

function fromBucket(b: Bucket): EngineBucket {
  const out: EngineBucket = {
    count: b.count,
    state: b.state,
    waitReason: b.waitReason,
    lockedToThread: b.lockedToThread,
    frames: b.frames.map(fromStackFrame),
    minWaitMinutes: b.minWaitMinutes,
    maxWaitMinutes: b.maxWaitMinutes,
    ids: b.ids.map(n64),
    idsDropped: b.idsDropped,
    crashed: b.crashed,
  };
  if (b.createdBy) out.createdBy = fromStackFrame(b.createdBy);
  return out;
}

function fromCulprit(c: Culprit): NonNullable<EngineAttribution["culprit"]> {
  return {
    function: c.function,
    file: c.file,
    line: c.line,
    packagePath: c.packagePath,
    ...(c.modulePath !== "" ? { modulePath: c.modulePath } : {}),
    ...(c.moduleVersion !== "" ? { moduleVersion: c.moduleVersion } : {}),
    inApp: c.inApp,
    owners: c.owners,
    ...(c.sourceUrl !== "" ? { sourceUrl: c.sourceUrl } : {}),
    goroutineId: n64(c.goroutineId),
    frameIndex: c.frameIndex,
    reason: c.reason,
  };
}

type CrashMessage = CrashAttribution | AttributeResponse;

function fromCrashFields(a: CrashMessage): EngineAttribution {
  const out: EngineAttribution = {
    kind: enumName(CrashKindSchema, a.kind, "CRASH_KIND_UNKNOWN"),
    category: enumName(CrashCategorySchema, a.category, "CRASH_CATEGORY_UNKNOWN"),
    message: a.message,
    messageTemplate: a.messageTemplate,
    panics: a.panics.map((p) => ({ message: p.message, recovered: p.recovered, repanicked: p.repanicked })),
    goVersion: {
      ...(a.goVersion?.min ? { min: a.goVersion.min } : {}),
      ...(a.goVersion?.max ? { max: a.goVersion.max } : {}),
      evidence: a.goVersion?.evidence ?? [],
    },
    fingerprint: a.fingerprint,
    fingerprintInputs: a.fingerprintInputs,
    goroutines: a.goroutines.map(fromGoroutine),
    buckets: a.buckets.map(fromBucket),
    findings: a.findings.map((f) => ({
      ruleId: f.ruleId,
      severity: enumName(SeveritySchema, f.severity, "SEVERITY_INFO"),
      title: f.title,
      detail: f.detail,
      remediation: f.remediation,
      evidenceBuckets: f.evidenceBuckets,
    })),
    startLine: a.startLine,
    endLine: a.endLine,
    truncated: a.truncated,
  };
  if (a.signal) out.signal = fromSignal(a.signal);
  if (a.culprit) out.culprit = fromCulprit(a.culprit);
  return out;
}

/** A server's AttributeResponse as the engine's result (what renderReport takes). */
export function fromAttributeResponse(r: AttributeResponse): AttributeResult {
  return {
    ...fromCrashFields(r),
    primaryIndex: r.primaryIndex,
    crashes: r.crashes.map(fromCrashFields),
    diagnostics: r.diagnostics.map((d) => ({ line: d.line, reason: d.reason, excerpt: d.excerpt })),
    diagnosticsDropped: r.diagnosticsDropped,
    stats: {
      inputBytes: n64(r.stats?.inputBytes ?? 0n),
      lines: r.stats?.lines ?? 0,
      inputTruncated: r.stats?.inputTruncated ?? false,
      longLines: r.stats?.longLines ?? 0,
      prefixesStripped: r.stats?.prefixesStripped ?? 0,
      unescapedLines: r.stats?.unescapedLines ?? 0,
    },
  };
}
