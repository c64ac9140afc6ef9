/**
 * Which repositories a request may read, when access is restricted (token
 * auth). The core uses it where one request touches a repository other than
 * the one it names: a cross-repository mount, the catalog.
 */
export interface ReadAccess {
  mayRead(repository: string): boolean;
  /** Every repository is readable (a pull rule on `*`): only then may a mount without `from` look registry-wide. */
  readonly mayReadAll: boolean;
}
