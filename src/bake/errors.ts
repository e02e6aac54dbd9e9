import { DepotError } from '../errors/index.js';

/** A problem with a bake definition (its files, its names or its flags): the user's to fix. */
export class BakeError extends DepotError {
  constructor(code: string, message: string, hint?: string) {
    super(code, message, hint);
    this.name = 'BakeError';
  }
}
