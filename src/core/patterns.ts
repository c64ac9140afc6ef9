/**
 * Name patterns in the configuration (immutable tags, and later retention rules):
 * repositories as in the auth policy (`*`, `team/*` for everything below `team/`, or
 * an exact name); tags as globs where `*` stands for any run of characters
 * (`v*`, `*-release`, `latest`).
 */
export function repositoryMatches(pattern: string, name: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith("/*")) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}

export function tagMatches(pattern: string, tag: string): boolean {
  const parts = pattern.split("*");
  if (parts.length === 1) return pattern === tag;
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (!tag.startsWith(first) || tag.length < first.length + last.length || !tag.endsWith(last)) return false;
  let at = first.length;
  for (const middle of parts.slice(1, -1)) {
    const found = tag.indexOf(middle, at);
    if (found === -1 || found + middle.length > tag.length - last.length) return false;
    at = found + middle.length;
  }
  return true;
}

/** Tags of these repositories never move to another digest once pushed. */
export interface ImmutableTagRule {
  repositories: string[];
  tags: string[];
}

export function isImmutableTag(rules: ImmutableTagRule[], repository: string, tag: string): boolean {
  return rules.some((rule) => rule.repositories.some((p) => repositoryMatches(p, repository)) && rule.tags.some((p) => tagMatches(p, tag)));
}
