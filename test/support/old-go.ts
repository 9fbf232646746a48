/**
 * The npm fixtures built with Go ≤ 1.13 (pclntab magic 0xfffffffb with the 1.2–1.13 `_func` and
 * inline-tree layouts), checked by test/gopclntab/old-go.test.ts, and the Go version each was
 * built with: its runtime.buildVersion, found with `strings`/`go tool nm` and, for Go 1.13,
 * `go version` (provenance in test/fixtures/README.md). The test finds the version string in each
 * file again on its own.
 */
export const OLD_GO_FIXTURES: ReadonlyMap<string, string> = new Map([
  ["ibazel-0.0.1-linux-amd64", "go1.7.3"],
  ["ibazel-0.0.1-darwin-amd64", "go1.7.3"],
  ["app-builder-1.0.4-linux-386", "go1.9.3"],
  ["app-builder-1.0.4-linux-arm", "go1.9.3"],
  ["app-builder-1.5.0-linux-amd64", "go1.10"],
  ["app-builder-1.8.9-linux-arm64", "go1.10.2"],
  ["ibazel-0.7.0-linux-amd64", "go1.11.2"],
  ["app-builder-2.6.0-linux-arm64", "go1.11.2"],
  ["esbuild-0.0.2-linux-amd64", "go1.12.9"],
  ["app-builder-3.4.0-linux-arm", "go1.12.7"],
  ["ibazel-0.10.3-windows-amd64", "go1.12.5"],
  ["app-builder-3.5.1-linux-386", "go1.13.4"],
  // Built outside a module (GOPATH mode): runtime.modinfo is "" in .bss / __bss / PE .data past
  // its raw bytes, not in the file (test/buildinfo/buildinfo.test.ts).
  ["esbuild-0.0.10-linux-amd64", "go1.13.8"],
  ["ibazel-0.11.2-windows-amd64", "go1.13.6"],
  ["bazelisk-1.3.0-darwin-amd64", "go1.13.6"],
]);
