// PEM files as the master reads them: the blocks they hold, by type.

const pemBlock = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

export interface PemBlock {
  type: string;
  text: string;
}

export function pemBlocks(text: string): PemBlock[] {
  return [...text.matchAll(pemBlock)].map((m) => ({ type: m[1], text: m[0] }));
}

/** The blocks joined back into one PEM text, or null when there are none. */
export function joinPem(blocks: readonly PemBlock[] | undefined): string | null {
  return blocks === undefined || blocks.length === 0 ? null : `${blocks.map((b) => b.text).join('\n')}\n`;
}

export const isCertificate = (b: PemBlock): boolean => b.type === 'CERTIFICATE';
export const isPrivateKey = (b: PemBlock): boolean => b.type.endsWith('PRIVATE KEY');
