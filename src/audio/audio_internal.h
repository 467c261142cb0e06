/* Pieces of the feature front-ends shared inside src/audio. */
#ifndef TINYQ_AUDIO_INTERNAL_H
#define TINYQ_AUDIO_INTERNAL_H

/* Mel filterbanks as n_mels rows of n_fft/2 + 1 bin weights. */
/* HTK mel (1127 ln(1 + f/700)), triangles of peak 1 between mel-spaced edges from lo_hz to
 * hi_hz, weighed in mel; bin 0 (DC) weight 0: TensorFlow's linear_to_mel_weight_matrix. */
void tq_mel_htk(float *fb, int n_mels, int n_fft, double rate, double lo_hz, double hi_hz);
/* Slaney mel (linear below 1 kHz, logarithmic above), triangles weighed in Hz, each scaled by
 * 2 / (its width in Hz) so that its area is constant: librosa.filters.mel's defaults. */
void tq_mel_slaney(float *fb, int n_mels, int n_fft, double rate, double lo_hz, double hi_hz);
/* m[k][j] = sqrt(2/n) cos(pi k (2j + 1) / (2n)), k < keep: TensorFlow's
 * mfccs_from_log_mel_spectrograms (a DCT-II scaled by 1/sqrt(2n), the same for every k). */
void tq_dct2_matrix(float *m, int keep, int n);

#endif
