/** Errors as the API answers them: RFC 9457 problem documents and the pages their `type` links to. */
import { type AppError, type ErrorCode, errorTable } from '../errors';

/** An RFC 9457 problem document. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  instance?: string;
  pointer?: string;
}

/** The path of a code's problem page, as the problem documents' `type` gives it. */
export function problemType(code: ErrorCode): string {
  return `/problems/${code.toLowerCase().replace(/_/g, '-')}`;
}

/** The short HTML page of a problem type (`/problems/{slug}`), or null when no code has that slug. */
export function problemPage(slug: string): string | null {
  const entry = errorTable().find((e) => problemType(e.code) === `/problems/${slug}`);
  if (!entry) return null;
  const esc = (t: string): string => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(entry.code)}: ${esc(entry.title)}</title></head><body><h1>${esc(entry.title)}</h1><p><code>${esc(entry.code)}</code>, HTTP ${entry.status}</p><p>${esc(entry.help)}</p><p><a href="/docs">API documentation</a></p></body></html>`;
}

const TITLES = new Map(errorTable().map((e) => [e.code, e.title]));

/** The problem document of an error; never carries a stack or the message of an unexpected error. */
export function toProblem(e: AppError, instance?: string): Problem {
  const title = TITLES.get(e.code) as string;
  return {
    type: problemType(e.code),
    title,
    status: e.status,
    detail: e.isOperational ? e.message : title,
    code: e.code,
    ...(instance ? { instance } : {}),
    ...(e.pointer !== undefined ? { pointer: e.pointer } : {}),
  };
}
