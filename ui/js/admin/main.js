// @ts-check
// Entry point of this page (filled in by its own modules).

import { fillHeader } from '../page-header.js';

fillHeader();
