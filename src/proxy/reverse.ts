// ProxyPassReverse: a backend that redirects to its own URL (Location: http://10.0.0.5:8080/x)
// would send the client where it cannot go. The backend URL is replaced by this server's path,
// under the scheme and host the client used (its Host header), as httpd does with its default
// UseCanonicalName Off.
import type { ReverseRule } from '../config/types';

export class ReverseMap {
  /** Backend URLs in lower case: httpd compares them without regard to case. */
  private readonly urls: string[];
  private readonly paths: string[];

  constructor(rules: readonly ReverseRule[]) {
    this.urls = rules.map((r) => r.url.toLowerCase());
    this.paths = rules.map((r) => r.path);
  }

  /** The value with the first matching backend URL replaced, or the value as it was. */
  map(value: string, encrypted: boolean, clientHost: string): string {
    for (let i = 0; i < this.urls.length; i++) {
      const url = this.urls[i];
      if (value.length >= url.length && value.slice(0, url.length).toLowerCase() === url) {
        return `${encrypted ? 'https' : 'http'}://${clientHost}${this.paths[i]}${value.slice(url.length)}`;
      }
    }
    return value;
  }
}
