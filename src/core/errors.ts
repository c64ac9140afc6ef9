/**
 * Every error this registry can answer, in one place (OCI distribution-spec
 * § Error Codes, plus the few statuses the spec names without a code).
 * Handlers and the core throw `RegistryError`; the HTTP layer renders it as
 * `{"errors":[{"code","message","detail"}]}` with the status registered here.
 */
export const errorCodes = {
  BLOB_UNKNOWN: { status: 404, message: "blob unknown to registry" },
  BLOB_UPLOAD_INVALID: { status: 400, message: "blob upload invalid" },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: "blob upload unknown to registry" },
  DIGEST_INVALID: { status: 400, message: "provided digest did not match uploaded content" },
  MANIFEST_BLOB_UNKNOWN: { status: 404, message: "manifest references a manifest or blob unknown to registry" },
  MANIFEST_INVALID: { status: 400, message: "manifest invalid" },
  MANIFEST_UNKNOWN: { status: 404, message: "manifest unknown to registry" },
  NAME_INVALID: { status: 400, message: "invalid repository name" },
  NAME_UNKNOWN: { status: 404, message: "repository name not known to registry" },
  SIZE_INVALID: { status: 400, message: "provided length did not match content length" },
  UNAUTHORIZED: { status: 401, message: "authentication required" },
  DENIED: { status: 403, message: "requested access to the resource is denied" },
  UNSUPPORTED: { status: 415, message: "the operation is unsupported" },
  TOOMANYREQUESTS: { status: 429, message: "too many requests" },
  // Not in the spec's table. Used only where no spec code fits; the spec codes
  // above are preferred, with a status override where the spec names one
  // (e.g. BLOB_UPLOAD_INVALID with 416 for an out-of-order chunk).
  RANGE_INVALID: { status: 416, message: "requested range not satisfiable" },
  PAGINATION_NUMBER_INVALID: { status: 400, message: "invalid number of results requested" },
  UNKNOWN: { status: 500, message: "unknown error" },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCodes;

export interface ErrorOptions {
  /** Overrides the code's usual status where the spec names another (413, 416). */
  status?: number;
  detail?: unknown;
  headers?: Record<string, string>;
}

export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: unknown;
  /** Extra response headers the error needs (e.g. `Range` on a 416 for an upload). */
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message?: string, options: ErrorOptions = {}) {
    super(message ?? errorCodes[code].message);
    this.name = "RegistryError";
    this.code = code;
    this.status = options.status ?? errorCodes[code].status;
    this.detail = options.detail ?? null;
    this.headers = options.headers ?? {};
  }

  toBody(): { errors: { code: ErrorCode; message: string; detail: unknown }[] } {
    return { errors: [{ code: this.code, message: this.message, detail: this.detail }] };
  }
}

export const isRegistryError = (e: unknown): e is RegistryError => e instanceof RegistryError;
