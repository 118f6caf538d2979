"""Answer normalisation for open-ended VQA, as the official VQA script, lmms-eval and VLMEvalKit apply it.

Pure functions over strings; nothing here imports vleval. The references (read at the commits named below):

* ``official``: GT-Vision-Lab/VQA ``PythonEvaluationTools/vqaEvaluation/vqaEval.py`` at a013f00 (2021, "Fixed
  processing answers bug"), class ``VQAEval``: ``evaluate``, ``processPunctuation``, ``processDigitArticle``. It is
  Python 2 code: its regular expressions have no ``re.UNICODE`` flag, so ``\\d`` there matches ``0-9`` only.
* ``official-2017``: the same file one commit earlier (a4f1afd, 2017), the version most Python 3 ports copied
  (e.g. salesforce/LAVIS ``lavis/common/vqa_tools/vqa_eval.py``); it differs only in *when* each step runs.
* ``lmms-eval``: EvolvingLMMs-Lab/lmms-eval (75571cf) ``lmms_eval/tasks/vqav2/utils.py``
  ``vqav2_process_results``, with ``EvalAIAnswerProcessor.process_punctuation`` / ``process_digit_article`` from
  ``lmms_eval/tasks/_task_utils/vqa_eval_metric.py``.
* ``lmms-eval-evalai``: the same repository's OK-VQA and TextVQA tasks (``lmms_eval/tasks/ok_vqa/utils.py``
  ``ok_vqa_process_results``, ``lmms_eval/tasks/textvqa/utils.py`` ``textvqa_process_results``), which run the
  whole ``EvalAIAnswerProcessor.__call__`` (it starts with ``word_tokenize``) on the prediction and on every answer.
* ``vlmevalkit``: open-compass/VLMEvalKit (e8e78f0) ``vlmeval/dataset/utils/vqa_eval.py`` ``process_answer`` and
  ``_process_digit_article``, with ``process_punctuation`` from ``vlmeval/smp/misc.py``.

The steps (each a function below):

1. :func:`clean_whitespace`: newline and tab become a space, then surrounding whitespace is stripped.
2. :func:`process_punctuation`: every mark of :data:`PUNCTUATION` (note: no ``.``, ``'``, ``:``, ``%``, ``#``,
   ``$``, ``&``, ``*``) is deleted if the *input* has a space on either side of that mark somewhere, or if the
   input contains a digit, comma, digit anywhere (then *every* mark is deleted, not only commas: "1,000" gives
   "1000", and "a-b 1,2" gives "ab 12"); otherwise the mark becomes a space ("a-b" gives "a b"). The comma rule
   is only ever a condition, it never substitutes by itself. Then periods are removed (see
   :data:`PERIOD_PATTERNS`), but at most the first 32: the references pass ``re.UNICODE`` (32) where
   ``Pattern.sub`` takes ``count``.
3. :func:`process_digit_article`: lower-case, split on whitespace, number words zero to ten (and "none") become
   digits (:data:`NUMBER_WORDS`), the articles a/an/the are dropped (after the number mapping), and words found in
   :data:`CONTRACTIONS` are replaced (apostrophes added: "dont" gives "don't"; "its" is not in the table, so "it's"
   and "its" stay different), then the words are joined by single spaces.

The official script ran on Python 2.7, whose ``unicode`` methods differ from Python 3's ``str`` in three ways that
:func:`clean_whitespace` and :func:`process_digit_article` reproduce for the official variant: ``lower()`` maps
"\u0130" (capital I with dot) to "i" (Python 3: "i" and a combining dot) and has no final-sigma rule ("\u03a3" at
the end of a word is "\u03c3", not "\u03c2"); and U+180E (Mongolian vowel separator) is whitespace for ``strip``
and ``split``. Characters whose case mapping changed after Unicode 5.2 (Python 2.7's database) are not covered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: VQA scoring modes, one per reference (see the module docstring); ``official`` is the default everywhere.
VQA_MODES = ("official", "official-2017", "lmms-eval", "lmms-eval-evalai", "vlmevalkit")
#: the three punctuation variants :func:`process_punctuation` knows
PUNCTUATION_VARIANTS = ("official", "lmms-eval", "vlmevalkit")

#: the contraction table shared verbatim by all three references (same 120 entries). Entries with capitals ("Im",
#: "Ive", "Id've", "I'dve") can never match, since words are lower-cased first; "somebody'd" maps to "somebodyd"
#: (the other way round from its neighbours): both quirks are the references'.
CONTRACTIONS: dict[str, str] = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've", "couldnt": "couldn't",
    "couldn'tve": "couldn't've", "couldnt've": "couldn't've", "didnt": "didn't", "doesnt": "doesn't",
    "dont": "don't", "hadnt": "hadn't", "hadnt've": "hadn't've", "hadn'tve": "hadn't've", "hasnt": "hasn't",
    "havent": "haven't", "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've", "hes": "he's", "howd": "how'd",
    "howll": "how'll", "hows": "how's", "Id've": "I'd've", "I'dve": "I'd've", "Im": "I'm", "Ive": "I've",
    "isnt": "isn't", "itd": "it'd", "itd've": "it'd've", "it'dve": "it'd've", "itll": "it'll", "let's": "let's",
    "maam": "ma'am", "mightnt": "mightn't", "mightnt've": "mightn't've", "mightn'tve": "mightn't've",
    "mightve": "might've", "mustnt": "mustn't", "mustve": "must've", "neednt": "needn't", "notve": "not've",
    "oclock": "o'clock", "oughtnt": "oughtn't", "ow's'at": "'ow's'at", "'ows'at": "'ow's'at", "'ow'sat": "'ow's'at",
    "shant": "shan't", "shed've": "she'd've", "she'dve": "she'd've", "she's": "she's", "shouldve": "should've",
    "shouldnt": "shouldn't", "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've",
    "somebody'd": "somebodyd", "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've",
    "somebodyll": "somebody'll", "somebodys": "somebody's", "someoned": "someone'd", "someoned've": "someone'd've",
    "someone'dve": "someone'd've", "someonell": "someone'll", "someones": "someone's", "somethingd": "something'd",
    "somethingd've": "something'd've", "something'dve": "something'd've", "somethingll": "something'll",
    "thats": "that's", "thered": "there'd", "thered've": "there'd've", "there'dve": "there'd've",
    "therere": "there're", "theres": "there's", "theyd": "they'd", "theyd've": "they'd've",
    "they'dve": "they'd've", "theyll": "they'll", "theyre": "they're", "theyve": "they've", "twas": "'twas",
    "wasnt": "wasn't", "wed've": "we'd've", "we'dve": "we'd've", "weve": "we've", "werent": "weren't",
    "whatll": "what'll", "whatre": "what're", "whats": "what's", "whatve": "what've", "whens": "when's",
    "whered": "where'd", "wheres": "where's", "whereve": "where've", "whod": "who'd", "whod've": "who'd've",
    "who'dve": "who'd've", "wholl": "who'll", "whos": "who's", "whove": "who've", "whyll": "why'll",
    "whyre": "why're", "whys": "why's", "wont": "won't", "wouldve": "would've", "wouldnt": "wouldn't",
    "wouldnt've": "wouldn't've", "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll",
    "y'allll": "y'all'll", "yall'd've": "y'all'd've", "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've",
    "youd": "you'd", "youd've": "you'd've", "you'dve": "you'd've", "youll": "you'll", "youre": "you're",
    "youve": "you've",
}
#: the references' ``manualMap``: number words to digits (only zero to ten, and "none" counts as zero)
NUMBER_WORDS: dict[str, str] = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}
ARTICLES = ("a", "an", "the")
#: the marks :func:`process_punctuation` deletes or turns into a space, in the references' order
PUNCTUATION = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?",
               "!")
#: how many periods :func:`process_punctuation` removes at most (``re.UNICODE == 32`` passed as ``count``)
PERIOD_STRIP_COUNT = 32

#: "a digit, a comma, a digit somewhere": the condition that makes every mark disappear. The official pattern is
#: ``(\d)(\,)(\d)`` under Python 2 without ``re.UNICODE`` (ASCII digits only); lmms-eval's ``(?<=\d)(\,)+(?=\d)``
#: also accepts several commas in a row ("1,,2"); VLMEvalKit's ``(\d)(,)(\d)``. Both of the latter run on Python 3,
#: where ``\d`` is any Unicode decimal digit.
COMMA_PATTERNS: dict[str, re.Pattern[str]] = {
    "official": re.compile(r"[0-9],[0-9]"),
    "lmms-eval": re.compile(r"\d,+\d"),
    "vlmevalkit": re.compile(r"\d,\d"),
}
#: the periods that are removed. The official (and lmms-eval's) ``(?!<=\d)(\.)(?!\d)`` was meant as "not between
#: digits" but ``(?!<=\d)`` is a look-*ahead* for the two characters "<=" and a digit, which can never match where a
#: period stands: every period not followed by a digit goes ("2." gives "2", "3.b" gives "3b"; "2.5" and ".5"
#: stay). VLMEvalKit's ``(?<!\d)\.(?!\d)`` is a true look-behind: a period after a digit stays ("2." stays "2.").
PERIOD_PATTERNS: dict[str, re.Pattern[str]] = {
    "official": re.compile(r"\.(?![0-9])"),
    "lmms-eval": re.compile(r"\.(?!\d)"),
    "vlmevalkit": re.compile(r"(?<!\d)\.(?!\d)"),
}


#: what Python 2.7's ``unicode.strip()`` / ``split()`` treat as whitespace: Python 3's set plus U+180E
PYTHON2_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u180e\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
                      "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def _python2_lower(text: str) -> str:
    """Python 2.7's ``unicode.lower()``: simple case mapping, character by character (see the module docstring)."""
    if text.isascii():
        return text.lower()
    return "".join("i" if char == "\u0130" else char.lower() for char in text)


def _python2_split(text: str) -> list[str]:
    """Python 2.7's ``unicode.split()``: Python 3's, with U+180E a separator too."""
    return text.replace("\u180e", " ").split()


def clean_whitespace(text: str, variant: str = "official") -> str:
    """Step 1 of every reference: ``"\\n"`` and ``"\\t"`` become ``" "``, then ``strip()`` (vqaEval.py
    ``evaluate``; lmms-eval ``vqav2_process_results`` and ``EvalAIAnswerProcessor.__call__``; VLMEvalKit
    ``process_answer``). Other whitespace (``"\\r"``, non-breaking spaces) is left inside the text. The
    ``official`` variant strips as Python 2 does (:data:`PYTHON2_WHITESPACE`), the others as Python 3."""
    if variant not in PUNCTUATION_VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(PUNCTUATION_VARIANTS)}")
    text = text.replace("\n", " ").replace("\t", " ")
    return text.strip(PYTHON2_WHITESPACE) if variant == "official" else text.strip()


def process_punctuation(text: str, variant: str = "official") -> str:
    """Step 2: punctuation as the reference's ``processPunctuation`` / ``process_punctuation`` (module docstring).

    ``variant`` picks the comma condition (:data:`COMMA_PATTERNS`) and period rule (:data:`PERIOD_PATTERNS`):
    ``official`` (vqaEval.py, both versions), ``lmms-eval`` (``EvalAIAnswerProcessor``) or ``vlmevalkit``
    (``vlmeval/smp/misc.py``). The space test and the comma test look at the *input*, never at the partly
    processed text.
    """
    if variant not in PUNCTUATION_VARIANTS:
        raise ValueError(f"unknown punctuation variant {variant!r}; expected one of {', '.join(PUNCTUATION_VARIANTS)}")
    drop_every_mark = COMMA_PATTERNS[variant].search(text) is not None
    out = text
    for mark in PUNCTUATION:
        spaced = f"{mark} " in text or f" {mark}" in text
        out = out.replace(mark, "" if drop_every_mark or spaced else " ")
    return PERIOD_PATTERNS[variant].sub("", out, count=PERIOD_STRIP_COUNT)


def process_digit_article(text: str, variant: str = "official") -> str:
    """Step 3, the same rules in all references (vqaEval.py ``processDigitArticle``; lmms-eval
    ``EvalAIAnswerProcessor.process_digit_article``; VLMEvalKit ``_process_digit_article``): lower-case, split on
    whitespace, map number words (:data:`NUMBER_WORDS`), drop articles, fix contractions, join with one space.
    The ``official`` variant lower-cases and splits as Python 2 does (module docstring), the others as Python 3."""
    if variant == "official":
        words = [NUMBER_WORDS.get(word, word) for word in _python2_split(_python2_lower(text))]
    elif variant in PUNCTUATION_VARIANTS:
        words = [NUMBER_WORDS.get(word, word) for word in text.lower().split()]
    else:
        raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(PUNCTUATION_VARIANTS)}")
    return " ".join(CONTRACTIONS.get(word, word) for word in words if word not in ARTICLES)


def evalai_word_tokenize(text: str) -> str:
    """lmms-eval's ``EvalAIAnswerProcessor.word_tokenize`` (the first step of its ``__call__``): lower-case, delete
    every ``,`` and ``?``, put a space before each ``'s`` ("it's" gives "it 's", "dog's" gives "dog 's"), strip.

    Commas are gone before :func:`process_punctuation` runs, so its digit-comma-digit condition can never fire in
    the ``lmms-eval-evalai`` pipeline.
    """
    return text.lower().replace(",", "").replace("?", "").replace("'s", " 's").strip()


def normalize_answer(text: str, mode: str = "official") -> str:
    """The full normalisation ``mode`` applies to one answer string (prediction or reference):

    * ``official`` / ``lmms-eval`` / ``vlmevalkit``: :func:`clean_whitespace`, :func:`process_punctuation` (that
      mode's variant), :func:`process_digit_article`. This is what the official script does to the prediction and
      to every ground-truth answer when the answers are not all identical (see :func:`normalize_vqa_item` for when
      it does nothing), and what lmms-eval's VQAv2 task and VLMEvalKit always do. lmms-eval's task first strips the
      model output (``lmms_eval/api/task.py`` ``ConfigurableTask.process_results``); that changes nothing here.
    * ``official-2017``: the same steps as ``official`` (what the 2017 script does to the prediction).
    * ``lmms-eval-evalai``: ``EvalAIAnswerProcessor.__call__``: :func:`evalai_word_tokenize` first, then the three
      steps with the ``lmms-eval`` punctuation variant.
    """
    if mode in ("official", "official-2017"):
        return _pipeline(clean_whitespace(text), "official")
    if mode == "lmms-eval":
        return _pipeline(clean_whitespace(text.strip(), "lmms-eval"), "lmms-eval")
    if mode == "lmms-eval-evalai":
        return _pipeline(clean_whitespace(evalai_word_tokenize(text), "lmms-eval"), "lmms-eval")
    if mode == "vlmevalkit":
        return _pipeline(clean_whitespace(text, "vlmevalkit"), "vlmevalkit")
    raise ValueError(f"unknown VQA mode {mode!r}; expected one of {', '.join(VQA_MODES)}")


def _pipeline(text: str, variant: str) -> str:
    """Steps 2 and 3: :func:`process_punctuation` then :func:`process_digit_article`."""
    return process_digit_article(process_punctuation(text, variant), variant)


@dataclass(frozen=True)
class NormalizedVQA:
    """A prediction and its reference answers exactly as a mode compares them (``answers`` keeps their order)."""

    prediction: str
    answers: tuple[str, ...]


def normalize_vqa_item(prediction: str, answers: list[str] | tuple[str, ...], mode: str = "official") -> NormalizedVQA:
    """The strings ``mode`` compares for one question, each step applied exactly when the reference applies it.

    * ``official`` (vqaEval.py a013f00, ``VQAEval.evaluate``): :func:`clean_whitespace` on every answer and on the
      prediction; then, *only if the cleaned answers are not all identical*, :func:`process_punctuation` and then
      :func:`process_digit_article` on every answer and on the prediction. When all answers are identical nothing
      else is done to either side, so "Yes", "yes." or "two" against ten "yes" / "2" do not match.
    * ``official-2017`` (vqaEval.py a4f1afd): the prediction always gets :func:`clean_whitespace`, punctuation and
      digit/article processing, in that order; the answers are not cleaned at all, and only if the raw answers are
      not all identical do they get :func:`process_punctuation` (never the digit/article step).
    * ``lmms-eval`` (``vqav2_process_results``): prediction stripped by the task, then both sides always get
      :func:`clean_whitespace`, punctuation (``lmms-eval`` variant) and digit/article processing.
    * ``lmms-eval-evalai`` (``ok_vqa_process_results``, ``textvqa_process_results``): both sides always get
      ``EvalAIAnswerProcessor.__call__`` (:func:`normalize_answer` with this mode).
    * ``vlmevalkit`` (``process_line`` with ``method='vqa_score'``): both sides always get ``process_answer``.
    """
    answers = tuple(answers)
    if mode == "official":
        pred = clean_whitespace(prediction)
        cleaned = tuple(clean_whitespace(a) for a in answers)
        if len(set(cleaned)) > 1:
            cleaned = tuple(_pipeline(a, "official") for a in cleaned)
            pred = _pipeline(pred, "official")
        return NormalizedVQA(pred, cleaned)
    if mode == "official-2017":
        pred = normalize_answer(prediction, "official")
        if len(set(answers)) > 1:
            answers = tuple(process_punctuation(a, "official") for a in answers)
        return NormalizedVQA(pred, answers)
    if mode in ("lmms-eval", "lmms-eval-evalai", "vlmevalkit"):
        return NormalizedVQA(normalize_answer(prediction, mode), tuple(normalize_answer(a, mode) for a in answers))
    raise ValueError(f"unknown VQA mode {mode!r}; expected one of {', '.join(VQA_MODES)}")
