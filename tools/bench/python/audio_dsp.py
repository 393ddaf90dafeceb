"""torchaudio twins of tools/bench's audio DSP workloads (src/workloads/audio.ts), on the CPU:

  audio-logmel       STFT + log-mel of N seconds of 16 kHz audio: torchaudio.transforms.MelSpectrogram (nFft 1024,
                     hop 256, 128 Slaney mels with Slaney norm, power 2, centre/reflect padding, periodic Hann) then
                     log(clamp(x, min=1e-5)).
  audio-griffinlim   torchaudio.transforms.GriffinLim (n_fft 1024, hop 256, power 1, 32 iterations, momentum 0.99,
                     random initial phase) on the STFT magnitude of the same signal.

The signal is the TypeScript side's audioTestSignal (a gliding harmonic tone plus a little noise); the cost does not
depend on it. Value: seconds of audio per second.

Timing: warm-up, then the fastest of 5 windows sharing --seconds (robust to other processes' bursts).
Prints a human line, or with --json one JSON object: {"workload","unit","value","iterations","seconds",
"threads","torch"}. Threads: torch's default unless --threads is given (reported either way).
"""
import math
import sys

import torch
import torchaudio

from common import parser, report, setup, timed

SAMPLE_RATE = 16_000
N_FFT = 1024
HOP = 256
N_MELS = 128


def test_signal(seconds: float) -> torch.Tensor:
    """The same test signal as audioTestSignal in src/workloads/audio.ts (float64 math, float32 result)."""
    n = int(SAMPLE_RATE * seconds)
    t = torch.arange(n, dtype=torch.float64) / SAMPLE_RATE
    cycle = torch.remainder(t, 10.0) / 10.0
    f = 220.0 * torch.pow(2.0, cycle)
    phase = 2 * math.pi * 220.0 * (10.0 / math.log(2.0)) * (torch.pow(2.0, cycle) - 1)
    # The same 32-bit linear congruential noise.
    state = 12345
    noise = torch.empty(n, dtype=torch.float64)
    values = []
    for _ in range(n):
        state = (state * 1103515245 + 12345) & 0xFFFFFFFF
        values.append(state)
    noise = torch.tensor(values, dtype=torch.float64) / 4294967296.0 - 0.5
    second = torch.where(f < 400, torch.full_like(f, 0.2), torch.full_like(f, 0.1))
    x = 0.4 * torch.sin(phase) + second * torch.sin(2 * phase) + 0.02 * noise
    return x.to(torch.float32)


def bench_logmel(args, signal):
    transform = torchaudio.transforms.MelSpectrogram(
        sample_rate=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS, f_min=0.0, f_max=SAMPLE_RATE / 2,
        window_fn=torch.hann_window, power=2.0, center=True, pad_mode="reflect", norm="slaney", mel_scale="slaney")

    def run():
        with torch.inference_mode():
            return torch.log(torch.clamp(transform(signal), min=1e-5))

    iterations, seconds = timed(run, args.seconds, args.warmup_seconds)
    return {"unit": "audio s/s", "value": args.audio_seconds * iterations / seconds, "iterations": iterations, "seconds": seconds}


def bench_griffinlim(args, signal):
    window = torch.hann_window(N_FFT)
    with torch.inference_mode():
        mag = torch.stft(signal, N_FFT, hop_length=HOP, window=window, center=True, pad_mode="reflect", return_complex=True).abs()
    transform = torchaudio.transforms.GriffinLim(n_fft=N_FFT, hop_length=HOP, power=1.0, n_iter=args.iterations,
                                                 momentum=args.momentum, length=signal.shape[0], rand_init=True)

    def run():
        with torch.inference_mode():
            return transform(mag)

    iterations, seconds = timed(run, args.seconds, args.warmup_seconds)
    return {"unit": "audio s/s", "value": args.audio_seconds * iterations / seconds, "iterations": iterations, "seconds": seconds}


def main(argv=None):
    p = parser(__doc__, ["audio-logmel", "audio-griffinlim"])
    p.add_argument("--audio-seconds", type=float, default=60.0)
    p.add_argument("--iterations", type=int, default=32)
    p.add_argument("--momentum", type=float, default=0.99)
    args = p.parse_args(argv)
    setup(args)
    signal = test_signal(args.audio_seconds)
    result = bench_logmel(args, signal) if args.workload == "audio-logmel" else bench_griffinlim(args, signal)
    return report(args, result)


if __name__ == "__main__":
    sys.exit(main())
