// The npm age-encryption package as a small command-line tool, for the interop tests in
// reviewer-cli/file_test.cpp.
//
// Usage: node age-js.mjs NODE_MODULES COMMAND [OPTIONS] IN OUT
//   encrypt (--recipient R | --passphrase P) [--armor] IN OUT
//   decrypt --identity-file F IN OUT            (ASCII armor is detected)
//   decrypt-passphrase --passphrase P IN OUT    (ASCII armor is detected)
// NODE_MODULES is web/node_modules: this script lives outside web/, where module
// resolution would not find the package.
import { readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const [nodeModules, command, ...rest] = process.argv.slice(2);
if (!nodeModules || !["encrypt", "decrypt", "decrypt-passphrase"].includes(command)) {
  fail("usage: age-js.mjs NODE_MODULES encrypt|decrypt|decrypt-passphrase [OPTIONS] IN OUT");
}

// Resolving from inside NODE_MODULES honours the package's "exports" like a bare import.
const entry = createRequire(join(nodeModules, "resolve-from-here.js")).resolve("age-encryption");
const age = await import(pathToFileURL(entry).href);

const { values, positionals } = parseArgs({
  args: rest,
  allowPositionals: true,
  options: {
    recipient: { type: "string" },
    passphrase: { type: "string" },
    armor: { type: "boolean", default: false },
    "identity-file": { type: "string" },
  },
});
if (positionals.length !== 2) fail(`${command}: give IN and OUT`);
const [input, output] = positionals;

try {
  const data = await readFile(input);
  if (command === "encrypt") {
    const encrypter = new age.Encrypter();
    if (values.recipient !== undefined) encrypter.addRecipient(values.recipient);
    else if (values.passphrase !== undefined) encrypter.setPassphrase(values.passphrase);
    else fail("encrypt: give --recipient or --passphrase");
    const sealed = await encrypter.encrypt(data);
    await writeFile(output, values.armor ? age.armor.encode(sealed) : sealed);
  } else {
    const decrypter = new age.Decrypter();
    if (command === "decrypt") {
      if (values["identity-file"] === undefined) fail("decrypt: give --identity-file");
      for (const identity of identitiesIn(await readFile(values["identity-file"], "utf8"))) {
        decrypter.addIdentity(identity);
      }
    } else {
      if (values.passphrase === undefined) fail("decrypt-passphrase: give --passphrase");
      decrypter.addPassphrase(values.passphrase);
    }
    await writeFile(output, await decrypter.decrypt(dearmored(data)));
  }
} catch (error) {
  fail(`${command}: ${error?.message ?? error}`);
}

// The AGE-SECRET-KEY-1... lines of an identity file; "#" lines are comments.
function identitiesIn(text) {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

function dearmored(data) {
  const text = data.toString("latin1");
  return text.trimStart().startsWith("-----BEGIN AGE ENCRYPTED FILE-----")
    ? age.armor.decode(text)
    : data;
}

function fail(message) {
  process.stderr.write(`age-js: ${message}\n`);
  process.exit(1);
}
