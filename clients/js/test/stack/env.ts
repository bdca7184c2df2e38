// The local stack's addresses, from the environment scripts/test.sh sets;
// a missing one fails the run, because a skipped stack test proves nothing.
export const need = (name: string, fallback?: string): string => {
  const v = process.env[name] ?? fallback;
  if (!v) throw new Error(`${name} is not set; run through scripts/test.sh`);
  return v.replace(/\/+$/, "");
};
