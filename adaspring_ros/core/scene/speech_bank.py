"""Real text-to-speech for the training data: utterances rendered by espeak-ng, cached as files.

Speech is the sound a home assistant hears most, and the one the first checkpoint mistook for
knocks and alarms. The project's own formant voice (`sound_synth._voice`) is a buzz with
vowel formants; espeak-ng's formant synthesiser adds what real speech has and that voice lacks:
consonants (plosive bursts that look like knocks, fricatives), phoneme timing, prosody, many
languages, voices, rates and pitches.

A bank is a pure function of (partition, seed, size, espeak-ng version): utterance ``i`` draws
its language, voice variant, rate, pitch, word gap and words from its own seeded generator,
and is rendered once to ``<cache>/speech/<key>/<partition>_<i>.wav`` (the data cache, never
git). Partitions keep training, held-out and benchmark speech apart: ``train`` feeds the
training split, ``heldout`` validation and test, ``bench`` the event-free benchmark streams.

espeak-ng is a system program (Debian/Ubuntu: ``apt-get install espeak-ng``;
scripts/setup_env.sh installs it where it can). Without it, `require_espeak` raises
`SpeechBankError` with that instruction.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile
from scipy import signal

SPEECH_BANK_VERSION = 1
PARTITIONS: dict[str, int] = {"train": 101, "heldout": 202, "bench": 303}
#: utterances per partition in the default bank
DEFAULT_SIZES: dict[str, int] = {"train": 240, "heldout": 80, "bench": 80}
SAMPLE_RATE = 16000
ESPEAK = "espeak-ng"
INSTALL_HINT = ("espeak-ng is needed to render speech for the training data: install it with "
                "`apt-get install -y espeak-ng` (Debian/Ubuntu; scripts/setup_env.sh does this "
                "when it runs as root), or `brew install espeak-ng` on macOS")

#: (espeak-ng voice, words): a few dozen everyday words per language; sentences are drawn
#: from them, so every utterance is new text in that language's phonology.
LANGUAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("en-us", ("hello", "dinner", "is", "ready", "where", "did", "you", "put", "the", "keys",
               "I", "think", "we", "should", "call", "mum", "tomorrow", "morning", "okay",
               "that", "sounds", "good", "what", "time", "are", "they", "coming", "back",
               "can", "pass", "me", "salt", "please", "weather", "nice", "today", "really")),
    ("en-gb", ("lovely", "cup", "of", "tea", "shall", "we", "go", "to", "the", "shops",
               "later", "I", "have", "got", "a", "meeting", "at", "four", "could", "you",
               "feed", "cat", "garden", "looks", "brilliant", "rain", "again", "quite")),
    ("de", ("guten", "morgen", "wie", "geht", "es", "dir", "das", "essen", "ist", "fertig",
            "wo", "sind", "meine", "schluessel", "heute", "abend", "kommen", "die", "kinder",
            "spaeter", "nach", "hause", "ich", "weiss", "nicht", "genau", "vielleicht")),
    ("fr", ("bonjour", "comment", "ca", "va", "le", "diner", "est", "pret", "ou", "sont",
            "mes", "cles", "je", "pense", "que", "nous", "devons", "appeler", "demain",
            "matin", "il", "fait", "beau", "aujourd'hui", "tu", "veux", "du", "cafe")),
    ("es", ("hola", "que", "tal", "la", "cena", "esta", "lista", "donde", "estan", "las",
            "llaves", "creo", "que", "debemos", "llamar", "a", "mama", "manana", "por",
            "favor", "pasame", "sal", "hace", "buen", "tiempo", "hoy", "vamos")),
    ("it", ("ciao", "come", "stai", "la", "cena", "e", "pronta", "dove", "sono", "le",
            "chiavi", "penso", "che", "dobbiamo", "chiamare", "domani", "mattina", "oggi",
            "fa", "bel", "tempo", "vuoi", "un", "caffe", "andiamo", "piano")),
    ("nl", ("goedemorgen", "hoe", "gaat", "het", "eten", "is", "klaar", "waar", "zijn",
            "mijn", "sleutels", "ik", "denk", "dat", "we", "morgen", "moeten", "bellen",
            "mooi", "weer", "vandaag", "koffie", "straks", "thuis")),
    ("pt", ("ola", "tudo", "bem", "o", "jantar", "esta", "pronto", "onde", "estao", "as",
            "chaves", "acho", "que", "devemos", "ligar", "amanha", "de", "manha", "hoje",
            "faz", "sol", "queres", "cafe", "vamos", "embora")),
    ("pl", ("dzien", "dobry", "jak", "sie", "masz", "obiad", "jest", "gotowy", "gdzie",
            "sa", "klucze", "myslę", "ze", "musimy", "zadzwonic", "jutro", "rano", "dzisiaj",
            "ladna", "pogoda", "kawa", "prosze", "dziekuje")),
    ("sv", ("god", "morgon", "hur", "mar", "du", "maten", "ar", "klar", "var", "ar",
            "mina", "nycklar", "jag", "tror", "vi", "ska", "ringa", "imorgon", "idag",
            "fint", "vader", "kaffe", "tack", "sa", "mycket")),
    ("tr", ("gunaydin", "nasilsin", "yemek", "hazir", "anahtarlar", "nerede", "bence",
            "yarin", "sabah", "aramaliyiz", "bugun", "hava", "guzel", "kahve", "ister",
            "misin", "tesekkurler", "tamam", "evet", "hayir")),
    ("id", ("selamat", "pagi", "apa", "kabar", "makan", "malam", "sudah", "siap", "di",
            "mana", "kunci", "saya", "kira", "kita", "harus", "telepon", "besok", "hari",
            "ini", "cuaca", "bagus", "kopi", "terima", "kasih")),
)
#: espeak-ng voice variants (+name): male, female, Klatt synthesiser, creaky, whispering
VARIANTS: tuple[str, ...] = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3",
                             "f4", "f5", "klatt", "klatt2", "klatt3", "croak", "whisper")
RATE_WPM = (110, 230)
PITCH = (15, 85)  # espeak-ng's 0-99 scale
WORD_GAP_10MS = (0, 4)


class SpeechBankError(RuntimeError):
    """Speech cannot be rendered or read; the message says what to do."""


def require_espeak() -> str:
    """The espeak-ng executable and its version line, or SpeechBankError with the fix."""
    exe = shutil.which(ESPEAK)
    if exe is None:
        raise SpeechBankError(INSTALL_HINT)
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=20,
                             check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise SpeechBankError(f"{exe} --version failed ({exc}); {INSTALL_HINT}") from exc
    return out.split("Data at")[0].strip()


def utterance_spec(partition: str, seed: int, index: int) -> dict:
    """What utterance ``index`` of a partition says, and how: a pure function of its seeds."""
    if partition not in PARTITIONS:
        raise SpeechBankError(f"unknown speech partition {partition!r}; expected one of "
                              f"{', '.join(PARTITIONS)}")
    rng = np.random.default_rng([seed, PARTITIONS[partition], index, 7])
    lang, words = LANGUAGES[int(rng.integers(len(LANGUAGES)))]
    n_words = int(rng.integers(4, 16))
    text = " ".join(words[int(i)] for i in rng.integers(len(words), size=n_words))
    if rng.random() < 0.4:
        text = text.replace(" ", ", ", 1) + "?"
    return {
        "voice": f"{lang}+{VARIANTS[int(rng.integers(len(VARIANTS)))]}",
        "rate": int(rng.integers(*RATE_WPM)),
        "pitch": int(rng.integers(*PITCH)),
        "word_gap": int(rng.integers(*WORD_GAP_10MS)),
        "text": text,
    }


def render_utterance(spec: dict, exe: str | None = None) -> np.ndarray:
    """espeak-ng's audio for one spec, as float32 mono at 16 kHz (unit peak, silence trimmed)."""
    exe = exe or shutil.which(ESPEAK)
    if exe is None:
        raise SpeechBankError(INSTALL_HINT)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "u.wav"
        cmd = [exe, "-v", spec["voice"], "-s", str(spec["rate"]), "-p", str(spec["pitch"]),
               "-g", str(spec["word_gap"]), "-w", str(wav),
               "--", spec["text"]]
        try:
            subprocess.run(cmd, capture_output=True, timeout=60, check=True)
            audio, rate = soundfile.read(str(wav), dtype="float32", always_2d=True)
        except (OSError, subprocess.SubprocessError, soundfile.LibsndfileError) as exc:
            raise SpeechBankError(f"espeak-ng failed on {spec}: {exc}") from exc
    audio = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        g = np.gcd(int(rate), SAMPLE_RATE)
        audio = signal.resample_poly(audio, SAMPLE_RATE // g, int(rate) // g).astype(np.float32)
    loud = np.flatnonzero(np.abs(audio) > 1e-3)
    if loud.size == 0:
        raise SpeechBankError(f"espeak-ng rendered silence for {spec}")
    audio = audio[loud[0]:loud[-1] + 1]
    return (audio / np.max(np.abs(audio))).astype(np.float32)


def bank_dir(cache_dir: Path, seed: int, version_line: str) -> Path:
    key = hashlib.sha1(f"{SPEECH_BANK_VERSION} {seed} {version_line}".encode()).hexdigest()[:10]
    return Path(cache_dir) / "speech" / f"espeak_v{SPEECH_BANK_VERSION}_seed{seed}_{key}"


def ensure_bank(cache_dir: Path, partition: str, seed: int = 0, size: int | None = None,
                progress: bool = False) -> list[Path]:
    """Render (once) and list the partition's utterance files; SpeechBankError without espeak."""
    size = DEFAULT_SIZES[partition] if size is None else int(size)
    version = require_espeak()
    folder = bank_dir(cache_dir, seed, version)
    folder.mkdir(parents=True, exist_ok=True)
    exe = shutil.which(ESPEAK)
    paths = []
    for i in range(size):
        path = folder / f"{partition}_{i:04d}.wav"
        if not path.exists():
            audio = render_utterance(utterance_spec(partition, seed, i), exe)
            tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.wav")
            soundfile.write(str(tmp), audio, SAMPLE_RATE, subtype="FLOAT")
            os.replace(tmp, path)
        paths.append(path)
    if progress:
        print(f"speech bank {partition}: {size} utterances in {folder}", flush=True)
    return paths


@functools.lru_cache(maxsize=8)
def load_bank(cache_dir: str, partition: str, seed: int = 0,
              size: int | None = None) -> tuple[np.ndarray, ...]:
    """The partition's utterances as float32 arrays (rendered first when missing)."""
    return tuple(soundfile.read(str(p), dtype="float32")[0]
                 for p in ensure_bank(Path(cache_dir), partition, seed, size))


def bank_signature(seed: int = 0) -> str:
    """What keys a data cache built with this bank: bank version, seed, espeak-ng version."""
    return f"speech{SPEECH_BANK_VERSION}-{seed}-{require_espeak()}"
