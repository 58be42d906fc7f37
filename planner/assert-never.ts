// Exhaustiveness guard for switches over tagged unions: a new variant becomes a compile error.

export function assertNever(x: never): never {
  throw new Error(`unhandled variant: ${JSON.stringify(x)}`);
}
