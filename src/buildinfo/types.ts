/** Decoded Go build information (runtime/debug.BuildInfo), from the binary's buildinfo blob. */
export interface Module {
  path: string;
  version: string;
  /** go.sum hash ("h1:..."); "" when absent. */
  sum: string;
  /** The `=>` replacement, when the module was replaced. */
  replace?: Module;
}

export interface BuildSetting {
  key: string;
  value: string;
}

export interface BuildInfo {
  /** "go1.21.5" (may carry suffixes like " X:boringcrypto"). */
  goVersion: string;
  /** Main package path ("" when absent, e.g. built from a file list in GOPATH mode). */
  path: string;
  /** Main module (path "" when the binary was built outside a module). */
  main: Module;
  deps: Module[];
  settings: BuildSetting[];
}
