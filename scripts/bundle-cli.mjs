// Bundles the CLI into dist/bin/effect-daytona.js (plus lazily loaded chunks). Loading one file instead of
// the ~700 ES modules of effect and @effect/cli cuts the CLI's start-up by about two thirds (BENCHMARKS.md).
// The Daytona SDK stays external: it is loaded from node_modules, and only by the commands that need it.
import { build } from "esbuild"

await build({
  entryPoints: { "effect-daytona": "src/cli/bin.ts" },
  outdir: "dist/bin",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: ["@daytonaio/sdk"],
  chunkNames: "chunks/[name]-[hash]",
  // Some bundled dependencies are CommonJS and call require(): give the ES module bundle one.
  banner: {
    js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);'
  },
  logLevel: "warning"
})
