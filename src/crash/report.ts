/**
 * A short human-readable report of an attribution: culprit first (what to open), then what
 * happened (category, message, signal), then the goroutine groups (largest first, with counts and
 * wait), then the findings with their remediation. Plain text, no colours; width-friendly.
 */
import type { AttributeResult, Bucket, CrashAttribution, StackFrame } from "./types.js";

export interface ReportOptions {
  /** Buckets listed (default 5). */
  maxBuckets?: number;
  /** Frames listed per bucket (default 6). */
  maxFrames?: number;
}

function loc(f: StackFrame): string {
  return f.file === "" ? "" : `${f.file}:${f.line}`;
}

function catName(c: string): string {
  return c
    .replace(/^CRASH_CATEGORY_/, "")
    .toLowerCase()
    .replace(/_/g, " ");
}

function bucketLine(b: Bucket, i: number): string {
  const what = b.waitReason !== "" ? b.waitReason : b.state;
  const wait =
    b.maxWaitMinutes > 0
      ? b.minWaitMinutes === b.maxWaitMinutes
        ? `, ${b.maxWaitMinutes} min`
        : `, ${b.minWaitMinutes}-${b.maxWaitMinutes} min`
      : "";
  const flags = [b.lockedToThread ? "locked to thread" : "", b.crashed ? "CRASHED" : ""].filter(
    (x) => x !== "",
  );
  return `  #${i} ${b.count} goroutine${b.count === 1 ? "" : "s"} [${what}${wait}]${flags.length ? ` ${flags.join(", ")}` : ""}`;
}

export function renderCrash(a: CrashAttribution, opts: ReportOptions = {}): string {
  const maxBuckets = opts.maxBuckets ?? 5;
  const maxFrames = opts.maxFrames ?? 6;
  const out: string[] = [];
  const c = a.culprit;
  if (c !== undefined) {
    out.push(`Culprit: ${c.function}`);
    if (c.file !== "") out.push(`  at ${c.file}:${c.line}`);
    const mod = c.modulePath ? `${c.modulePath}${c.moduleVersion ? `@${c.moduleVersion}` : ""}` : "";
    const meta = [
      mod !== "" ? `module ${mod}` : "",
      c.inApp ? "in-app" : "not in-app",
      c.owners.length > 0 ? `owners ${c.owners.join(" ")}` : "",
    ].filter((x) => x !== "");
    out.push(`  ${meta.join("; ")}`);
    if (c.sourceUrl) out.push(`  ${c.sourceUrl}`);
    out.push(`  (${c.reason})`);
  } else {
    out.push("Culprit: unknown (no frame to blame)");
  }
  out.push("");
  out.push(`What: ${catName(a.category)}${a.message !== "" ? ` — ${a.message.split("\n", 1)[0]}` : ""}`);
  if (a.signal && a.signal.name !== "") {
    const s = a.signal;
    const parts = [s.name];
    if (s.addr !== undefined) parts.push(`addr=0x${s.addr.toString(16)}`);
    if (s.pc !== undefined) parts.push(`pc=0x${s.pc.toString(16)}`);
    if (s.duringCgo) parts.push("during cgo execution");
    out.push(`  signal ${parts.join(" ")}`);
  }
  if (a.goVersion.min || a.goVersion.max)
    out.push(
      `  Go ${a.goVersion.min ?? "?"}${a.goVersion.max === a.goVersion.min ? "" : `..${a.goVersion.max ?? ""}`}`,
    );
  out.push(`  fingerprint ${a.fingerprint.slice(0, 16)}`);
  if (a.truncated) out.push("  (the text is truncated or partly unparseable)");

  if (a.buckets.length > 0) {
    out.push("");
    const total = a.goroutines.length;
    out.push(`Goroutines: ${total} in ${a.buckets.length} group${a.buckets.length === 1 ? "" : "s"}`);
    a.buckets.slice(0, maxBuckets).forEach((b, i) => {
      out.push(bucketLine(b, i));
      for (const f of b.frames.slice(0, maxFrames))
        out.push(`      ${f.function}${f.inlined ? " (inlined)" : ""}  ${loc(f)}`);
      if (b.frames.length > maxFrames) out.push(`      ... ${b.frames.length - maxFrames} more frames`);
      if (b.createdBy) out.push(`      created by ${b.createdBy.function}  ${loc(b.createdBy)}`);
    });
    if (a.buckets.length > maxBuckets) out.push(`  ... ${a.buckets.length - maxBuckets} more groups`);
  }

  if (a.findings.length > 0) {
    out.push("");
    out.push("Findings:");
    for (const f of a.findings) {
      const sev = f.severity.replace(/^SEVERITY_/, "").toLowerCase();
      const ev =
        f.evidenceBuckets.length > 0
          ? ` (groups ${f.evidenceBuckets
              .slice(0, 8)
              .map((i) => `#${i}`)
              .join(", ")})`
          : "";
      out.push(`  [${sev}] ${f.title}${ev}`);
      if (f.detail !== "" && f.detail !== f.title) out.push(`    ${f.detail}`);
      if (f.remediation !== "") out.push(`    fix: ${f.remediation}`);
    }
  }
  return `${out.join("\n")}\n`;
}

/** The report of the primary crash, plus one line per other crash and the parse problems. */
export function renderReport(r: AttributeResult, opts: ReportOptions = {}): string {
  if (r.primaryIndex < 0) {
    const lines = ["No Go crash found in the text."];
    for (const d of r.diagnostics.slice(0, 10)) lines.push(`  line ${d.line}: ${d.reason}`);
    return `${lines.join("\n")}\n`;
  }
  let s = renderCrash(r, opts);
  if (r.crashes.length > 1) {
    s += `\nOther crashes in this log (${r.crashes.length - 1}):\n`;
    r.crashes.forEach((c, i) => {
      if (i === r.primaryIndex) return;
      s += `  line ${c.startLine}: ${catName(c.category)} — ${c.culprit?.function ?? "?"} (${c.fingerprint.slice(0, 12)})\n`;
    });
  }
  const problems = r.diagnostics.length + r.diagnosticsDropped;
  if (problems > 0) {
    s += `\nNot parsed (${problems}):\n`;
    for (const d of r.diagnostics.slice(0, 5)) s += `  line ${d.line}: ${d.reason}\n`;
  }
  return s;
}
