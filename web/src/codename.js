// Source codenames in the browser (design §4.3), the same as crypto/src/codename.cpp:
// 23 uniformly random digits and a Damm check digit; typed text is normalised by dropping
// ASCII spaces and hyphen-minus, anything else is an error; the keys are
//   K = scrypt(24 digits, "tipline/v1/codename" || instance salt, N=2^16, r=8, p=1, 64)
//   login_secret = K[0..32), source X25519 identity scalar = K[32..64).
// web/codename_test.cpp proves this file and the C++ derive identical keys.
import { scryptAsync } from "@noble/hashes/scrypt.js";
import { bech32 } from "@scure/base";
import { identityToRecipient } from "age-encryption";

export const DIGITS = 24;

// Damm's weakly totally anti-symmetric quasigroup of order 10, as in the C++.
const DAMM = [
  [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
  [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
  [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
  [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
  [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
  [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
  [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
  [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
  [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
  [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

// The check digit ("0".."9") of a string of ASCII digits.
export function checkDigit(digits) {
  let interim = 0;
  for (const digit of digits) interim = DAMM[interim][digit.charCodeAt(0) - 48];
  return String(interim);
}

// A fresh codename, 24 digits without separators, from the browser's CSPRNG. Bytes of 250
// and above are drawn again, so that each digit is exactly uniform.
export function generate() {
  let digits = "";
  const bytes = new Uint8Array(64);
  while (digits.length < DIGITS - 1) {
    crypto.getRandomValues(bytes);
    for (const byte of bytes) {
      if (byte < 250 && digits.length < DIGITS - 1) digits += String(byte % 10);
    }
  }
  bytes.fill(0);
  return digits + checkDigit(digits);
}

// The 24 digits of typed text, or an error: "malformed" (another character, or not 24
// digits) or "check_digit" (a typo), as the C++ normalize.
export function normalize(text) {
  const digits = text.replace(/[ -]/g, "");
  if (!/^[0-9]*$/.test(digits) || digits.length !== DIGITS) return { error: "malformed" };
  if (checkDigit(digits) !== "0") return { error: "check_digit" };
  return { digits };
}

// Six groups of four digits separated by single spaces.
export function displayForm(digits) {
  return digits.match(/.{4}/g).join(" ");
}

function hexToBytes(hex) {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; ++i) bytes[i] = parseInt(hex.substr(2 * i, 2), 16);
  return bytes;
}

// The keys of normalised `digits` for the instance whose salt is `saltHex`:
// { loginSecret: Uint8Array(32), recipient: "age1..." }. The identity itself is not kept:
// a JavaScript string cannot be wiped, and nothing here decrypts.
// onProgress(fraction) is called while scrypt runs, which takes about a second and 64 MiB.
export async function derive(digits, saltHex, onProgress) {
  const prefix = new TextEncoder().encode("tipline/v1/codename");
  const instanceSalt = hexToBytes(saltHex);
  const salt = new Uint8Array(prefix.length + instanceSalt.length);
  salt.set(prefix);
  salt.set(instanceSalt, prefix.length);
  const password = new TextEncoder().encode(digits);
  const key = await scryptAsync(password, salt, { N: 2 ** 16, r: 8, p: 1, dkLen: 64, onProgress });
  password.fill(0);
  const loginSecret = key.slice(0, 32);
  const scalar = key.slice(32, 64);
  key.fill(0);
  const identity = bech32.encode("AGE-SECRET-KEY-", bech32.toWords(scalar), false).toUpperCase();
  scalar.fill(0);
  const recipient = await identityToRecipient(identity);
  return { loginSecret, recipient };
}
