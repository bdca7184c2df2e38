// The package as npm would publish it: packs it, checks what the tarball
// holds (ESM, declarations, README, LICENSE; no tests, no sources), installs
// it into a scratch project beside this folder, and imports every entry
// point from there. Entry points for React and React Native are resolved
// and their declarations type-checked (consumer.ts); "." is imported and
// used, since it runs in Node as it is. Run by scripts/test-clients.sh.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import assert from "node:assert/strict";

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const scratch = join(pkgDir, ".pack-test");
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });

rmSync(scratch, { recursive: true, force: true });
mkdirSync(scratch);
const [packed] = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", scratch], pkgDir));
const files = packed.files.map((f) => f.path).sort();
console.log(`npm pack: ${packed.filename}, ${files.length} files, ${packed.size} bytes`);
for (const f of files) console.log(`  ${f}`);
for (const must of ["LICENSE", "README.md", "package.json"]) assert.ok(files.includes(must), `the tarball has ${must}`);
for (const f of files) {
  assert.ok(!/(^|\/)test\//.test(f) && !f.startsWith("src/") && !f.endsWith(".ts") || f.endsWith(".d.ts"), `${f} does not belong in the tarball`);
}
const pkg = JSON.parse(run("node", ["-p", "JSON.stringify(require('./package.json'))"], pkgDir));
for (const [entry, target] of Object.entries(pkg.exports)) {
  if (typeof target === "string") continue;
  for (const file of [target.default, target.types]) {
    assert.ok(files.includes(file.replace(/^\.\//, "")), `${entry}: ${file} is in the tarball`);
  }
}

writeFileSync(join(scratch, "package.json"), JSON.stringify({ name: "pack-test", private: true, type: "module" }));
run("npm", ["install", "--no-save", "--no-audit", "--no-fund", "--loglevel=error", `./${packed.filename}`], scratch);

// "." runs in Node as is: import it and use it against a stand-in answer.
const mod = await import(pathToFileURL(createRequire(join(scratch, "x.js")).resolve("@dfbridge/client")).href);
for (const name of ["exchangeSession", "bindFirebaseSession", "BridgeError", "DescopeOidcSession", "bindOidcSession"]) {
  assert.equal(typeof mod[name], "function", `@dfbridge/client exports ${name}`);
}
const res = await mod.exchangeSession({
  bridgeUrl: "http://bridge.invalid",
  sessionJwt: "x.y.z",
  fetch: async () => new Response(JSON.stringify({ externalToken: "t", uid: "u", expiresAt: 1 }), { status: 200 }),
});
assert.equal(res.uid, "u");
console.log(`import "@dfbridge/client": ok (${Object.keys(mod).length} exports)`);

// The framework entry points need React / React Native at run time:
// resolve them from the installed package, and type-check a consumer.
for (const entry of ["@dfbridge/client/react", "@dfbridge/client/react-native", "@dfbridge/client/expo"]) {
  const resolved = import.meta.resolve(entry, pathToFileURL(join(scratch, "x.js")).href);
  assert.ok(existsSync(fileURLToPath(resolved)), `${entry} resolves to a file`);
  console.log(`resolve "${entry}": ok`);
}
writeFileSync(join(scratch, "consumer.ts"), readFileSync(join(pkgDir, "test", "pack", "consumer.ts.txt"), "utf8"));
writeFileSync(join(scratch, "tsconfig.json"), JSON.stringify({
  compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", strict: true, noEmit: true,
    skipLibCheck: true, jsx: "react-jsx", types: [] },
  files: ["consumer.ts"],
}));
run(join(pkgDir, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], scratch);
console.log("type-check of a consumer importing every entry point: ok");
rmSync(scratch, { recursive: true, force: true });
