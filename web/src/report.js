// The report document (tipline-report/1) from the report form, exactly as the server makes
// it from the same form without JavaScript (server/src/questionnaire.h): answered questions
// only, in the form's order; a month as "YYYY-MM" or "YYYY"; a multiple choice as an array
// in option order; text with "\n" line breaks. Then Padmé padding (crypto/padding.h).

const NOT_QUESTIONS = new Set(["csrf_token", "attachments", "codename"]);
const BLANK = /^[ \t\r\n]*$/;

export function reportDocument(form) {
  // A Map, not an object: ids such as "20" or "__proto__" keep their place and meaning.
  const answers = new Map();
  const months = new Map();  // id -> { year, month }
  for (const element of form.elements) {
    const { name, type } = element;
    if (!name || NOT_QUESTIONS.has(name) || element.disabled) continue;
    const dot = name.indexOf(".");
    if (dot > 0) {
      const id = name.slice(0, dot);
      if (!months.has(id)) {
        months.set(id, {});
        answers.set(id, undefined);  // keeps the question's place in the order
      }
      months.get(id)[name.slice(dot + 1)] = element.value;
      continue;
    }
    if (type === "checkbox") {
      if (!answers.has(name)) answers.set(name, undefined);
      if (element.checked) answers.set(name, [...(answers.get(name) ?? []), element.value]);
    } else if (type === "radio") {
      if (!answers.has(name)) answers.set(name, undefined);
      if (element.checked) answers.set(name, element.value);
    } else if (type !== "submit" && type !== "button" && type !== "file" && type !== "hidden") {
      const text = BLANK.test(element.value) ? undefined : element.value.replace(/\r\n?/g, "\n");
      answers.set(name, text);
    }
  }
  for (const [id, { year, month }] of months) {
    if (year) answers.set(id, month ? `${year}-${month}` : year);
  }
  const answered = [...answers].filter(([, value]) => value !== undefined);
  const json = answered.map(([id, value]) => `${JSON.stringify(id)}:${JSON.stringify(value)}`);
  return `{"format":"tipline-report/1","answers":{${json.join(",")}}}`;
}

// The month selects whose month is chosen without a year, which the server would refuse.
export function monthsWithoutYear(form) {
  return [...form.elements].filter((element) => element.name?.endsWith(".month") &&
    element.value !== "" && form.elements[element.name.replace(/\.month$/, ".year")]?.value === "");
}

// The Padmé length of `length` (Nikitin et al., PETS 2019).
export function padmeLength(length) {
  if (length <= 8) return length;
  const e = Math.floor(Math.log2(length));
  const s = Math.floor(Math.log2(e)) + 1;
  const mask = 2 ** (e - s) - 1;
  return Math.floor((length + mask) / (mask + 1)) * (mask + 1);
}

// bytes || 0x80 || zeros, padmeLength(bytes.length + 1) bytes in all.
export function pad(bytes) {
  const padded = new Uint8Array(padmeLength(bytes.length + 1));
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  return padded;
}
