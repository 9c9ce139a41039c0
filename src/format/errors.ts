import { ThreadweaverError } from '../errors.js';

/** A format spec that names no format or setting, or a block that its format cannot render. */
export class FormatError extends ThreadweaverError {
  override name = 'FormatError';
}
