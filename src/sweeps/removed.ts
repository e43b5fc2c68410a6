import { Signal } from '@lumino/signaling';

/**
 * A sweep deleted from this page (no event says so): lists drop it.
 */
export const sweepRemoved = new Signal<object, string>({});
