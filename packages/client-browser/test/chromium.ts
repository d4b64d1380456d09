// The browser tests' Chromium: a persistent context on a fresh temporary profile, from the helpers
// every suite shares. A missing Chromium fails the tests, it never skips them.
export { CHROMIUM, launchChromiumProfile as launchChromium } from '@stelar/test-utils';
