/**
 * What is wrong with an input file, said the way a person fixes it: each issue names the file, the line and
 * column, the field's path, what was expected (its type, and the allowed values rather than a pattern), what was
 * found, and "did you mean …" for a near miss. Issues come from an Effect Schema's decode (its `ParseIssue` tree,
 * walked here) and from rules across fields; positions from the `yaml` library's node ranges.
 */
import { AutoCorrect, CliConfig } from "@effect/cli"
import { Data, Option, type ParseResult, SchemaAST } from "effect"
import { type Document, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml"

export type Path = ReadonlyArray<string | number>

/** One thing wrong, before it is placed in the file. */
export interface Issue {
  readonly path: Path
  readonly expected: string
  readonly found: string
  /** A near miss: the allowed value or field name closest to what was found. */
  readonly suggestion?: string
  /** Where in the file: the value (default), the key of the field, or the object that lacks the field. */
  readonly at?: "value" | "key" | "parent"
}

/** An issue placed in its file. */
export interface Located extends Issue {
  readonly line: number
  readonly column: number
}

/** A file that cannot be used as it is: every issue, each one or two lines. A usage error (exit code 2). */
export class InvalidInput extends Data.TaggedError("InvalidInput")<{
  readonly file: string
  readonly issues: ReadonlyArray<Located>
  readonly message: string
}> {}

// ---- formatting

export const formatPath = (path: Path): string =>
  path.reduce<string>(
    (text, key) => (typeof key === "number" ? `${text}[${key}]` : text === "" ? key : `${text}.${key}`),
    ""
  ) || "(document)"

/** `file:line:column: path: expected …; found …`, and `  did you mean "…"?` on a second line for a near miss. */
export const formatIssue = (file: string, issue: Located): string =>
  `${file}:${issue.line}:${issue.column}: ${formatPath(issue.path)}: expected ${issue.expected}; found ${issue.found}` +
  (issue.suggestion === undefined ? "" : `\n  did you mean "${issue.suggestion}"?`)

export const invalidInput = (file: string, issues: ReadonlyArray<Located>): InvalidInput =>
  new InvalidInput({ file, issues, message: issues.map((i) => formatIssue(file, i)).join("\n") })

/** What a value is, in words: strings quoted, lists and objects by kind. */
export const describeValue = (value: unknown): string => {
  if (value === undefined) return "nothing (the field is missing)"
  if (value === null) return "an empty value"
  if (typeof value === "string") return JSON.stringify(value)
  if (Array.isArray(value)) return value.length === 0 ? "an empty list" : "a list"
  if (typeof value === "object") return "an object"
  return String(value)
}

// ---- near misses

const cliConfig = CliConfig.make({ isCaseSensitive: true })

/** The candidate closest to `word` by edit distance, if it is close (a third of the word's length, at least 1). */
export const nearest = (word: string, candidates: ReadonlyArray<string>): string | undefined => {
  const limit = Math.max(1, Math.floor(word.length / 3))
  let best: { candidate: string; distance: number } | undefined
  for (const candidate of candidates) {
    const distance = AutoCorrect.levensteinDistance(word, candidate, cliConfig)
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { candidate, distance }
  }
  return best?.candidate
}

// ---- what a schema expects, in words

/** Values a schema allows, when it is a closed set: a union of literals, or a filter annotated with an `enum`. */
export const allowedValues = (ast: SchemaAST.AST): ReadonlyArray<string> | undefined => {
  if (ast._tag === "Literal") return [String(ast.literal)]
  if (ast._tag === "Union") {
    const members = ast.types.filter((t) => t._tag !== "UndefinedKeyword")
    if (members.every((t) => t._tag === "Literal")) return members.map((t) => String(t.literal))
    return members.length === 1 ? allowedValues(members[0]!) : undefined
  }
  if (ast._tag === "Refinement") {
    const annotation = SchemaAST.getJSONSchemaAnnotation(ast)
    const values = Option.isSome(annotation) ? (annotation.value as { enum?: unknown }).enum : undefined
    return Array.isArray(values) ? values.map(String) : undefined
  }
  if (ast._tag === "Transformation") return allowedValues(ast.from)
  return undefined
}

const kindsOf = (members: ReadonlyArray<SchemaAST.AST>): ReadonlyArray<string> | undefined => {
  const kinds: Array<string> = []
  for (const member of members) {
    if (member._tag !== "TypeLiteral") return undefined
    const kind = member.propertySignatures.find((p) => p.name === "kind")
    if (kind?.type._tag !== "Literal") return undefined
    kinds.push(String(kind.type.literal))
  }
  return kinds
}

/** What a schema expects, with its type: "a positive number", "a string, one of dev, standard". */
export const describe = (ast: SchemaAST.AST): string => {
  switch (ast._tag) {
    case "Refinement": {
      const description = SchemaAST.getDescriptionAnnotation(ast)
      return Option.isSome(description) ? description.value : describe(ast.from)
    }
    case "Transformation":
      return describe(ast.from)
    case "Literal":
      return typeof ast.literal === "string" ? `the string "${ast.literal}"` : String(ast.literal)
    case "Union": {
      const members = ast.types.filter((t) => t._tag !== "UndefinedKeyword")
      if (members.length === 1) return describe(members[0]!)
      const allowed = allowedValues(ast)
      if (allowed !== undefined) return `a string, one of ${allowed.join(", ")}`
      const kinds = kindsOf(members)
      if (kinds !== undefined) return `an object whose kind is one of ${kinds.join(", ")}`
      return members.map(describe).join(" or ")
    }
    case "TypeLiteral":
      return `an object with the fields ${ast.propertySignatures.map((p) => String(p.name)).join(", ")}`
    case "TupleType": {
      const item = ast.rest[0]?.type ?? ast.elements[0]?.type
      const what = item === undefined ? "values" : describe(item)
      return `${ast.elements.length > 0 ? "a non-empty list" : "a list"}, each ${what}`
    }
    case "NumberKeyword":
      return "a number"
    case "StringKeyword":
      return "a string"
    case "BooleanKeyword":
      return "true or false"
    default:
      return String(ast)
  }
}

// ---- the decode's issues

const hasPointer = (issue: ParseResult.ParseIssue): boolean => {
  switch (issue._tag) {
    case "Pointer":
      return true
    case "Composite":
      return (Array.isArray(issue.issues) ? issue.issues : [issue.issues]).some(hasPointer)
    case "Refinement":
    case "Transformation":
      return hasPointer(issue.issue)
    default:
      return false
  }
}

const leaf = (path: Path, ast: SchemaAST.AST, actual: unknown): Issue => {
  const allowed = allowedValues(ast)
  const suggestion =
    typeof actual === "string" && allowed !== undefined ? nearest(actual, allowed) : undefined
  return {
    path,
    expected: describe(ast),
    found: describeValue(actual),
    ...(suggestion === undefined ? {} : { suggestion })
  }
}

/** The issues of a failed decode, one per offending field. */
export const fromParseIssue = (root: ParseResult.ParseIssue): ReadonlyArray<Issue> => {
  const issues: Array<Issue> = []
  const walk = (issue: ParseResult.ParseIssue, path: Path, fields: ReadonlyArray<string>): void => {
    switch (issue._tag) {
      case "Pointer": {
        const keys = Array.isArray(issue.path) ? issue.path : [issue.path]
        const inner = issue.issue
        // An empty list where a non-empty one is needed: said of the list, not of its missing first item.
        if (inner._tag === "Missing" && Array.isArray(issue.actual) && keys[0] === issue.actual.length) return
        walk(inner, [...path, ...(keys as Array<string | number>)], fields)
        return
      }
      case "Composite": {
        const children = Array.isArray(issue.issues) ? issue.issues : [issue.issues]
        if (issue.ast._tag === "Union" && !children.some(hasPointer)) {
          issues.push(leaf(path, issue.ast, issue.actual))
          return
        }
        if (issue.ast._tag === "TupleType" && Array.isArray(issue.actual) && issue.actual.length === 0) {
          issues.push(leaf(path, issue.ast, issue.actual))
          return
        }
        const names =
          issue.ast._tag === "TypeLiteral" ? issue.ast.propertySignatures.map((p) => String(p.name)) : fields
        for (const child of children) walk(child, path, names)
        return
      }
      case "Refinement":
        if (issue.kind === "From" && hasPointer(issue.issue)) walk(issue.issue, path, fields)
        else issues.push(leaf(path, issue.ast, issue.actual))
        return
      case "Transformation":
        walk(issue.issue, path, fields)
        return
      case "Missing": {
        // A struct's missing field names its property signature; what is expected is the signature's type.
        const ast = issue.ast as unknown as SchemaAST.AST | SchemaAST.PropertySignature
        issues.push({
          ...leaf(path, ast instanceof SchemaAST.PropertySignature ? ast.type : ast, undefined),
          at: "parent"
        })
        return
      }
      case "Unexpected": {
        const name = String(path.at(-1))
        const suggestion = nearest(name, fields)
        issues.push({
          path,
          expected: `one of the fields ${fields.join(", ")}`,
          found: `an unknown field "${name}"`,
          at: "key",
          ...(suggestion === undefined ? {} : { suggestion })
        })
        return
      }
      case "Type":
      case "Forbidden":
        issues.push(leaf(path, issue.ast, issue.actual))
        return
    }
  }
  walk(root, [], [])
  // A field spelled wrong is also missing under its right name: "did you mean" says both.
  const suggested = new Set(
    issues.flatMap((i) =>
      i.at === "key" && i.suggestion !== undefined ? [formatPath([...i.path.slice(0, -1), i.suggestion])] : []
    )
  )
  return issues.filter((i) => !(i.at === "parent" && suggested.has(formatPath(i.path))))
}

// ---- positions in the file

/** A parsed YAML (or JSON) file that can say where each field is. */
export interface SourceFile {
  readonly name: string
  readonly data: unknown
  readonly locate: (issue: Issue) => Located
}

const nodeAt = (document: Document, path: Path): Node | undefined => {
  let node: unknown = document.contents
  for (const key of path) {
    if (isMap(node)) node = node.items.find((pair) => isScalar(pair.key) && pair.key.value === key)?.value
    else if (isSeq(node) && typeof key === "number") node = node.items[key]
    else return undefined
    if (node === undefined || node === null) return undefined
  }
  return node as Node
}

const keyAt = (document: Document, path: Path): Node | undefined => {
  const parent = nodeAt(document, path.slice(0, -1))
  const name = path.at(-1)
  if (!isMap(parent)) return undefined
  const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === name)
  return (pair?.key as Node | undefined) ?? undefined
}

/** The closest position that exists: the node at the path, or its nearest ancestor. */
const offsetOf = (document: Document, issue: Issue): number => {
  if (issue.at === "key") {
    const key = keyAt(document, issue.path)
    if (key?.range !== undefined && key.range !== null) return key.range[0]
  }
  const path = issue.at === "parent" ? issue.path.slice(0, -1) : issue.path
  for (let n = path.length; n >= 0; n--) {
    const node = nodeAt(document, path.slice(0, n))
    if (node?.range !== undefined && node.range !== null) return node.range[0]
  }
  return 0
}

/**
 * Parses `text` (YAML, or JSON, which YAML reads as well) keeping positions; a syntax error is an `InvalidInput`
 * with the parser's message and position.
 */
export const parseSource = (text: string, name: string): SourceFile | InvalidInput => {
  const lineCounter = new LineCounter()
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const syntax = document.errors[0]
  if (syntax !== undefined) {
    const position = lineCounter.linePos(syntax.pos[0])
    const what = syntax.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")
    return invalidInput(name, [
      {
        path: [],
        expected: "a YAML or JSON document",
        found: `a syntax error (${what})`,
        line: position.line,
        column: position.col
      }
    ])
  }
  return {
    name,
    data: document.toJS(),
    locate: (issue) => {
      const position = lineCounter.linePos(offsetOf(document, issue))
      return { ...issue, line: position.line, column: position.col }
    }
  }
}
