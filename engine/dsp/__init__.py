"""Pure signal-processing functions: STFT, filters, Wiener filtering."""
