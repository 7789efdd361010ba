import { type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ErrorCode, type ErrorCodeValue, httpStatus } from '../../shared/errors.js';
import type { Logger } from '../log.js';

/** node's parser codes with their own status (as node's default answer has them); any other is 400. */
const CODES: Record<string, ErrorCodeValue> = {
  HPE_HEADER_OVERFLOW: ErrorCode.headersTooLarge,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: ErrorCode.payloadTooLarge,
  ERR_HTTP_REQUEST_TIMEOUT: ErrorCode.requestTimeout,
};

/**
 * The server's `clientError` listener: HTTP node's parser refuses before any
 * route sees it (bad framing, headers over 16 KiB, a request not sent in
 * time) is answered in the hub's error shape instead of node's empty body,
 * then the connection closes, since nothing after the error can be framed.
 */
export const clientError =
  (log: Logger) =>
  (err: NodeJS.ErrnoException, socket: Duplex): void => {
    log.debug({ code: err.code }, 'http client error');
    // node's own guard: no answer once a response has started on this socket, or to a peer that is gone
    const started = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage?.headersSent;
    if (err.code === 'ECONNRESET' || !socket.writable || started) {
      socket.destroy();
      return;
    }
    const code = CODES[err.code ?? ''] ?? ErrorCode.badRequest;
    const status = httpStatus[code] as number;
    const body = JSON.stringify({ error: code });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  };
