/**
 * A tiny schema language for JSON messages: each message type lists its fields,
 * and both the TypeScript type and the runtime validator are derived from it,
 * so the two can never disagree.
 *
 *   "str" | "int" | "bool" | "strs" | "ints"   required field
 *   the same with a trailing "?"                 optional field
 *   readonly ["a", "b"]                          required string, one of these values
 */

export type Scalar = "str" | "int" | "bool" | "strs" | "ints";
export type FieldSpec = Scalar | `${Scalar}?` | readonly string[];
export type Schema = Record<string, Record<string, FieldSpec>>;

type Base<S> = S extends "str" | "str?"
  ? string
  : S extends "int" | "int?"
    ? number
    : S extends "bool" | "bool?"
      ? boolean
      : S extends "strs" | "strs?"
        ? string[]
        : S extends "ints" | "ints?"
          ? number[]
          : S extends readonly (infer E)[]
            ? E
            : never;

export type Flatten<T> = { [K in keyof T]: T[K] };
/** The fields of one message type (required and optional), as a TypeScript type. */
export type Fields<F> = Flatten<
  { [K in keyof F as F[K] extends `${string}?` ? never : K]: Base<F[K]> } & {
    [K in keyof F as F[K] extends `${string}?` ? K : never]?: Base<F[K]>;
  }
>;

/** The discriminated union of all messages of a schema, discriminated by `t`. */
export type MessageOf<S extends Schema> = { [T in keyof S]: Flatten<{ t: T } & Fields<S[T]>> }[keyof S];

/** Longest string accepted in any field (texts are further limited by the rules). */
export const MAX_FIELD_CHARS = 16 * 1024;
/** Longest list accepted in any field. */
export const MAX_LIST = 10_000;

function checkScalar(kind: Scalar, v: unknown): boolean {
  switch (kind) {
    case "str":
      return typeof v === "string" && v.length <= MAX_FIELD_CHARS;
    case "int":
      return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
    case "bool":
      return typeof v === "boolean";
    case "strs":
      return Array.isArray(v) && v.length <= MAX_LIST && v.every((x) => checkScalar("str", x));
    case "ints":
      return Array.isArray(v) && v.length <= MAX_LIST && v.every((x) => checkScalar("int", x));
  }
}

/**
 * Validate a parsed JSON value against a schema. Returns the typed message or a
 * one-line reason. Unknown fields are ignored (forward compatibility).
 */
export function validate<S extends Schema>(schema: S, v: unknown): MessageOf<S> | string {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "message is not an object";
  const obj = v as Record<string, unknown>;
  const t = obj.t;
  if (typeof t !== "string" || !Object.hasOwn(schema, t)) return `unknown message type ${JSON.stringify(t)?.slice(0, 40)}`;
  for (const f of compiled(schema[t]!)) {
    const value = obj[f.name];
    if (f.choices) {
      if (typeof value !== "string" || !f.choices.includes(value)) return `${t}.${f.name}: expected one of ${f.choices.join("|")}`;
      continue;
    }
    if (value === undefined && f.optional) continue;
    if (!checkScalar(f.kind, value)) return `${t}.${f.name}: expected ${f.kind}`;
  }
  return obj as MessageOf<S>;
}

type CompiledField = { name: string; kind: Scalar; optional: boolean; choices: readonly string[] | null };
const compiledCache = new WeakMap<object, CompiledField[]>();

/** A message type's fields, parsed once (validate runs for every message a server relays). */
function compiled(fields: Record<string, FieldSpec>): CompiledField[] {
  let out = compiledCache.get(fields);
  if (!out) {
    out = Object.entries(fields).map(([name, spec]) => {
      if (typeof spec !== "string") return { name, kind: "str" as Scalar, optional: false, choices: spec };
      const optional = spec.endsWith("?");
      return { name, kind: (optional ? spec.slice(0, -1) : spec) as Scalar, optional, choices: null };
    });
    compiledCache.set(fields, out);
  }
  return out;
}
