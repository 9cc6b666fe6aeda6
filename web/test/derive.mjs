// Prints what web/src/codename.js makes of codenames, one JSON line each, for
// web/codename_test.cpp to compare with the C++ code:
//   node derive.mjs SALT_HEX TEXT...   {"text","error"} or {"text","login_secret","recipient"}
//   node derive.mjs --generate COUNT   COUNT fresh codenames, one a line
import { derive, generate, normalize } from "../src/codename.js";

const [first, ...rest] = process.argv.slice(2);
if (first === "--generate") {
  for (let i = 0; i < Number(rest[0]); ++i) console.log(generate());
} else {
  for (const text of rest) {
    const normalized = normalize(text);
    if (normalized.error) {
      console.log(JSON.stringify({ text, error: normalized.error }));
      continue;
    }
    const keys = await derive(normalized.digits, first);
    const loginSecret = Buffer.from(keys.loginSecret).toString("hex");
    console.log(JSON.stringify({ text, login_secret: loginSecret, recipient: keys.recipient }));
  }
}
