// The JavaScript layer's words: every key web/src/app.js names is in the English catalog
// (web/i18n/en/app.toml), every English key is used, and every other language has exactly
// the English keys with the same {placeholders}. Run by ctest (web.strings).
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const web = join(dirname(fileURLToPath(import.meta.url)), "..");

// app.toml files hold only comments and `key = "text"` lines (basic strings, whose escapes
// JSON reads the same way).
function catalog(language) {
  const entries = new Map();
  const text = readFileSync(join(web, "i18n", language, "app.toml"), "utf8");
  for (const [number, line] of text.split("\n").entries()) {
    if (/^\s*(#|$)/.test(line)) continue;
    const match = /^([a-z_]+) = (".*")$/.exec(line);
    assert.ok(match, `${language}/app.toml:${number + 1} is not a key = "text" line`);
    assert.ok(!entries.has(match[1]), `${language}/app.toml: ${match[1]} twice`);
    entries.set(match[1], JSON.parse(match[2]));
  }
  return entries;
}

const placeholders = (text) => [...text.matchAll(/\{[a-z_]+\}/g)].map((m) => m[0]).sort();
const english = catalog("en");
const languages = readdirSync(join(web, "i18n")).filter((name) => name !== "en");

test("every key the script names is in the English catalog, and every English key is used", () => {
  const source = readdirSync(join(web, "src"))
    .map((name) => readFileSync(join(web, "src", name), "utf8")).join("\n");
  for (const [, key] of source.matchAll(/\bt\("([a-z_]+)"/g)) {
    assert.ok(english.has(key), `t("${key}") has no entry in en/app.toml`);
  }
  const literals = new Set([...source.matchAll(/"([a-z_]+)"/g)].map((m) => m[1]));
  for (const key of english.keys()) {
    assert.ok(literals.has(key), `en/app.toml has ${key}, which the script never uses`);
  }
});

test("every language has the English keys, in order, with the same placeholders", () => {
  assert.equal(languages.length, 10);
  for (const language of languages) {
    const translated = catalog(language);
    assert.deepEqual([...translated.keys()], [...english.keys()], language);
    for (const [key, text] of english) {
      assert.deepEqual(placeholders(translated.get(key)), placeholders(text), `${language}: ${key}`);
      assert.notEqual(translated.get(key).trim(), "", `${language}: ${key} is empty`);
    }
  }
});
