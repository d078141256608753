/** Counts the timers `setTimeout` makes from now until `restore()`. */
export function countTimers(): { readonly made: number; restore(): void } {
  const setTimer = globalThis.setTimeout;
  let made = 0;
  globalThis.setTimeout = ((...a: Parameters<typeof setTimeout>) => {
    made++;
    return setTimer(...a);
  }) as typeof setTimeout;
  return {
    get made() {
      return made;
    },
    restore() {
      globalThis.setTimeout = setTimer;
    },
  };
}
