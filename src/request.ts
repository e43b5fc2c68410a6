import { URLExt } from '@jupyterlab/coreutils';

import { ServerConnection } from '@jupyterlab/services';

import type { components } from './api-types';

/**
 * The path segments under the server's base URL where the mlbench REST API lives.
 */
export const API_NAMESPACE = ['mlbench', 'api', 'v1'];

/**
 * The error body every mlbench handler returns:
 * `{"error": {"code": ..., "message": ..., "details": ...}}`.
 */
export type IMlbenchErrorBody = components['schemas']['ErrorResponse'];

/**
 * An error answered by the server (a non-2xx response), carrying the
 * mlbench error shape when the server sent one.
 */
export class MlbenchAPIError extends ServerConnection.ResponseError {
  constructor(
    response: Response,
    code: string,
    message: string,
    details?: unknown,
    hint?: string | null
  ) {
    super(response, message);
    this.name = 'MlbenchAPIError';
    this.code = code;
    this.details = details;
    this.hint = hint ?? undefined;
  }

  /**
   * The HTTP status of the response.
   */
  get status(): number {
    return this.response.status;
  }

  /**
   * A machine-readable error code, e.g. `not_found`; `http_error` or
   * `server_error` when the body was not mlbench's error shape.
   */
  readonly code: string;

  /**
   * Optional structured details sent by the server.
   */
  readonly details?: unknown;

  /**
   * How to fix it, when the server knows a fix.
   */
  readonly hint?: string;
}

/**
 * Whether a parsed body has mlbench's error shape.
 */
export function isMlbenchErrorBody(body: unknown): body is IMlbenchErrorBody {
  if (typeof body !== 'object' || body === null || !('error' in body)) {
    return false;
  }
  const error = (body as { error: unknown }).error;
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'string' &&
    typeof (error as { message?: unknown }).message === 'string'
  );
}

/**
 * Call the mlbench server extension.
 *
 * @param endPoint API end point under `{baseUrl}/mlbench/api/v1/`
 * @param init Initial values for the request
 * @param settings The server settings to use (default: `ServerConnection.makeSettings()`)
 * @returns The response body parsed as JSON (`undefined` for an empty body)
 * @throws {MlbenchAPIError} when the server answers with a non-2xx status
 * @throws {ServerConnection.NetworkError} when the server cannot be reached
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const requestUrl = URLExt.join(settings.baseUrl, ...API_NAMESPACE, endPoint);

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(requestUrl, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }

  const text = await response.text();
  let data: unknown = undefined;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }

  if (!response.ok) {
    if (isMlbenchErrorBody(data)) {
      const { code, message, details, hint } = data.error;
      throw new MlbenchAPIError(response, code, message, details, hint);
    }
    const message =
      (typeof data === 'object' &&
      data !== null &&
      typeof (data as { message?: unknown }).message === 'string'
        ? (data as { message: string }).message
        : '') ||
      response.statusText ||
      `HTTP ${response.status}`;
    const code = response.status >= 500 ? 'server_error' : 'http_error';
    throw new MlbenchAPIError(response, code, message);
  }

  return data as T;
}
