// Compiles contracts/src with the npm solc package (standard JSON) and writes the artifacts
// Python loads. Output is deterministic (sorted keys, fixed settings) so a fresh build can be
// compared byte for byte with the committed one.  Usage: node build.mjs [--out DIR]
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const solc = require("solc");
const here = path.dirname(fileURLToPath(import.meta.url));

const outArg = process.argv.indexOf("--out");
const outDir = outArg > 0 ? path.resolve(process.argv[outArg + 1]) : path.join(here, "artifacts");

// Library contracts we deploy as they are, besides everything defined under src/.
const LIBRARY_CONTRACTS = ["ERC1967Proxy", "TimelockController"];
// The ERC-4337 EntryPoint is deployed from the audited build its package ships.
const PREBUILT = { EntryPoint: "@account-abstraction/contracts/artifacts/EntryPoint.json" };

const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  outputSelection: {
    "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "storageLayout"] },
  },
};

function solFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return solFiles(full);
    return entry.name.endsWith(".sol") ? [full] : [];
  });
}

function findImport(importPath) {
  const full = path.join(here, "node_modules", importPath);
  if (fs.existsSync(full)) return { contents: fs.readFileSync(full, "utf8") };
  return { error: `not found: ${importPath}` };
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys(value[k])]));
  }
  return value;
}

function writeJson(file, value) {
  fs.writeFileSync(file, JSON.stringify(sortKeys(value), null, 2) + "\n");
}

const sources = {};
for (const file of solFiles(path.join(here, "src")).sort()) {
  const name = path.relative(here, file).split(path.sep).join("/");
  sources[name] = { content: fs.readFileSync(file, "utf8") };
}

const input = { language: "Solidity", sources, settings: SETTINGS };
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) {
  // Library warnings (e.g. OpenZeppelin's note on transient storage) are not ours to act on.
  const ours = (e.sourceLocation?.file || "").startsWith("src/");
  if (e.severity === "error" || ours) process.stderr.write(e.formattedMessage + "\n");
}
if (errors.length) process.exit(1);

fs.rmSync(outDir, { recursive: true, force: true });
fs.mkdirSync(outDir, { recursive: true });
for (const [sourceName, contracts] of Object.entries(output.contracts)) {
  for (const [contractName, c] of Object.entries(contracts)) {
    const ours = sourceName.startsWith("src/");
    if (!ours && !LIBRARY_CONTRACTS.includes(contractName)) continue;
    if (!c.evm.bytecode.object) continue; // interfaces and abstract contracts
    writeJson(path.join(outDir, `${contractName}.json`), {
      contractName,
      sourceName,
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
      storageLayout: c.storageLayout,
    });
  }
}
for (const [contractName, file] of Object.entries(PREBUILT)) {
  const a = JSON.parse(fs.readFileSync(path.join(here, "node_modules", file), "utf8"));
  writeJson(path.join(outDir, `${contractName}.json`), {
    contractName,
    sourceName: file,
    abi: a.abi,
    bytecode: a.bytecode,
    deployedBytecode: a.deployedBytecode,
    storageLayout: null,
  });
}
writeJson(path.join(outDir, "_compiler.json"), {
  solc: solc.version(),
  settings: SETTINGS,
  packages: Object.fromEntries(
    ["@openzeppelin/contracts", "@openzeppelin/contracts-upgradeable", "@account-abstraction/contracts"].map((p) => [
      p,
      JSON.parse(fs.readFileSync(path.join(here, "node_modules", p, "package.json"), "utf8")).version,
    ]),
  ),
});
console.log(`wrote ${fs.readdirSync(outDir).length} artifacts to ${path.relative(process.cwd(), outDir) || "."}`);
