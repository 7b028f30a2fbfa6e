// Time as the handlers see it: real on AWS, scaled under timeoutlab.
//
// timeoutlab sets TIMEOUTLAB_TIME_SCALE and TIMEOUTLAB_EPOCH_ANCHOR in the function's environment;
// on AWS neither is set and this is plain time.

/** Emulated seconds per real second's reciprocal: 0.01 plays a 40 s wait in 0.4 s. */
export function scale() {
  const value = Number(process.env.TIMEOUTLAB_TIME_SCALE ?? "1");
  return Number.isFinite(value) && value > 0 ? value : 1;
}

/** Seconds since the epoch, emulated (what DynamoDB TTLs compare with). */
export function now() {
  const real = Date.now() / 1000;
  const anchor = process.env.TIMEOUTLAB_EPOCH_ANCHOR;
  return anchor === undefined ? real : Number(anchor) + (real - Number(anchor)) / scale();
}

/** Wait an emulated number of milliseconds. */
export function wait(milliseconds) {
  return new Promise((resolve) => setTimeout(resolve, milliseconds * scale()));
}
