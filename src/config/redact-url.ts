/**
 * A URL with its password replaced by `***`, for messages and output: a password never reaches a
 * log. Text that does not parse as a URL keeps everything but a `:password@` part.
 *
 * @internal
 */
export function redactUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return text.replace(/:[^:@/]*@/, ':***@');
  }
}
