"""Survey exports: questionnaires filled in on a form (Google Forms, Qualtrics, Microsoft Forms,
SurveyMonkey), exported with the question's text as the column name and the answer in words.

A column is read as an item when its name holds the item's wording: the question alone
("Little interest or pleasure in doing things"), numbered ("1. Feeling down, depressed, or
hopeless"), or after the questionnaire's stem as the export writes a grid ("Over the last 2 weeks,
how often have you been bothered by any of the following problems? [Trouble relaxing]", or
Qualtrics' "... - Trouble relaxing"). Wording is compared without case and punctuation, and
closely enough to allow another edition's wording; the longest match wins (PCL-5's "Trouble
falling or staying asleep" is part of PHQ-9 item 3's wording).

Answers are read by the instrument's response scale ("Several days" = 1 on the PHQ-9 and GAD-7,
"Quite a bit" = 3 on the PCL-5; each QIDS-SR16 item's four statements, "I feel sad less than half
the time" = 1), or by the number written with them ("2 - More than half the days", "Nearly every
day (3)"); an answer of four words or more may be another edition's wording, read as the scale's
when it is close enough to one answer alone. The wording is that of the public-domain
instruments: PHQ-9 and GAD-7 (Kroenke et al. 2001; Spitzer et al. 2006; Pfizer, free to use),
PCL-5 (Weathers et al. 2013, National Center for PTSD) and QIDS-SR16 (Rush et al. 2003; UT
Southwestern, free to use).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from analysis.instruments import get_instrument
from analysis.loading.vocabularies import split_remark

__all__ = ["ANSWERS", "ITEM_WORDING", "NOT_ANSWERS", "QIDS_ANSWERS", "RESPONSE_NUMBERS", "answer_scores", "bookkeeping",
           "describe_survey", "question_item", "survey_columns"]

ITEM_WORDING: dict[str, tuple[str, ...]] = {
    "PHQ-9": (
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much",
        "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself, or that you are a failure or have let yourself or your family down",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "Moving or speaking so slowly that other people could have noticed, or the opposite, being so "
        "fidgety or restless that you have been moving around a lot more than usual",
        "Thoughts that you would be better off dead, or of hurting yourself in some way",
    ),
    "GAD-7": (
        "Feeling nervous, anxious, or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it is hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid, as if something awful might happen",
    ),
    "PCL-5": (
        "Repeated, disturbing, and unwanted memories of the stressful experience",
        "Repeated, disturbing dreams of the stressful experience",
        "Suddenly feeling or acting as if the stressful experience were actually happening again",
        "Feeling very upset when something reminded you of the stressful experience",
        "Having strong physical reactions when something reminded you of the stressful experience",
        "Avoiding memories, thoughts, or feelings related to the stressful experience",
        "Avoiding external reminders of the stressful experience",
        "Trouble remembering important parts of the stressful experience",
        "Having strong negative beliefs about yourself, other people, or the world",
        "Blaming yourself or someone else for the stressful experience or what happened after it",
        "Having strong negative feelings such as fear, horror, anger, guilt, or shame",
        "Loss of interest in activities that you used to enjoy",
        "Feeling distant or cut off from other people",
        "Trouble experiencing positive feelings",
        "Irritable behavior, angry outbursts, or acting aggressively",
        "Taking too many risks or doing things that could cause you harm",
        "Being superalert or watchful or on guard",
        "Feeling jumpy or easily startled",
        "Having difficulty concentrating",
        "Trouble falling or staying asleep",
    ),
    "QIDS-SR16": (
        "Falling asleep", "Sleep during the night", "Waking up too early", "Sleeping too much", "Feeling sad",
        "Decreased appetite", "Increased appetite", "Decreased weight", "Increased weight",
        "Concentration/decision making", "View of myself", "Thoughts of death or suicide", "General interest",
        "Energy level", "Feeling slowed down", "Feeling restless",
    ),
}

# QIDS-SR16's answers, item by item (ITEM_WORDING's order), each item's four statements scored 0-3
QIDS_ANSWERS: tuple[tuple[str, str, str, str], ...] = (
    ("I never take longer than 30 minutes to fall asleep.",
     "I take at least 30 minutes to fall asleep, less than half the time.",
     "I take at least 30 minutes to fall asleep, more than half the time.",
     "I take more than 60 minutes to fall asleep, more than half the time."),
    ("I do not wake up at night.", "I have a restless, light sleep with a few brief awakenings each night.",
     "I wake up at least once a night, but I go back to sleep easily.",
     "I awaken more than once a night and stay awake for 20 minutes or more, more than half the time."),
    ("Most of the time, I awaken no more than 30 minutes before I need to get up.",
     "More than half the time, I awaken more than 30 minutes before I need to get up.",
     "I almost always awaken at least one hour or so before I need to, but I go back to sleep eventually.",
     "I awaken at least one hour before I need to, and can't go back to sleep."),
    ("I sleep no longer than 7-8 hours/night, without napping during the day.",
     "I sleep no longer than 10 hours in a 24-hour period including naps.",
     "I sleep no longer than 12 hours in a 24-hour period including naps.",
     "I sleep longer than 12 hours in a 24-hour period including naps."),
    ("I do not feel sad.", "I feel sad less than half the time.", "I feel sad more than half the time.",
     "I feel sad nearly all of the time."),
    ("There is no change in my usual appetite.", "I eat somewhat less often or lesser amounts of food than usual.",
     "I eat much less than usual and only with personal effort.",
     "I rarely eat within a 24-hour period, and only with extreme personal effort or when others persuade me to eat."),
    ("There is no change from my usual appetite.", "I feel a need to eat more frequently than usual.",
     "I regularly eat more often and/or greater amounts of food than usual.",
     "I feel driven to overeat both at mealtime and between meals."),
    ("I have not had a change in my weight.", "I feel as if I've had a slight weight loss.",
     "I have lost 2 pounds or more.", "I have lost 5 pounds or more."),
    ("I have not had a change in my weight.", "I feel as if I've had a slight weight gain.",
     "I have gained 2 pounds or more.", "I have gained 5 pounds or more."),
    ("There is no change in my usual capacity to concentrate or make decisions.",
     "I occasionally feel indecisive or find that my attention wanders.",
     "Most of the time, I struggle to focus my attention or to make decisions.",
     "I cannot concentrate well enough to read or cannot make even minor decisions."),
    ("I see myself as equally worthwhile and deserving as other people.", "I am more self-blaming than usual.",
     "I largely believe that I cause problems for others.",
     "I think almost constantly about major and minor defects in myself."),
    ("I do not think of suicide or death.", "I feel that life is empty or wonder if it's worth living.",
     "I think of suicide or death several times a week for several minutes.",
     "I think of suicide or death several times a day in some detail, or I have made specific plans for suicide "
     "or have actually tried to take my life."),
    ("There is no change from usual in how interested I am in other people or activities.",
     "I notice that I am less interested in people or activities.",
     "I find I have interest in only one or two of my formerly pursued activities.",
     "I have virtually no interest in formerly pursued activities."),
    ("There is no change in my usual level of energy.", "I get tired more easily than usual.",
     "I have to make a big effort to start or finish my usual daily activities (for example, shopping, homework, "
     "cooking or going to work).",
     "I really cannot carry out most of my usual daily activities because I just don't have the energy."),
    ("I think, speak, and move at my usual rate of speed.",
     "I find that my thinking is slowed down or my voice sounds dull or flat.",
     "It takes me several seconds to respond to most questions and I'm sure my thinking is slowed.",
     "I am often unable to respond to questions without extreme effort."),
    ("I do not feel restless.", "I'm often fidgety, wringing my hands, or need to shift how I am sitting.",
     "I have impulses to move about and am quite restless.",
     "At times, I am unable to stay seated and need to pace around."),
)
_FREQUENCY = {"not at all": 0, "several days": 1, "more than half the days": 2, "nearly every day": 3}

# The PHQ-9's and GAD-7's closing question on how difficult the problems made life: not an item.
_DIFFICULTY = "how difficult have these problems made it"
_SHORT_WORDS = 4  # wordings shorter than this are matched whole, never inside a longer header
_FEWEST_ITEMS = 3  # an instrument is read from a survey that asks at least this many of its items
_CLOSE_ENOUGH = 0.86  # difflib ratio of another edition's wording ("falling/staying asleep")
_WORDS = re.compile(r"[^0-9a-z]+")


def _words(text: object) -> str:
    return " ".join(_WORDS.split(str(text).lower().replace("super-alert", "superalert"))).strip()


_WORDED = {(instrument, item): _words(text) for instrument, texts in ITEM_WORDING.items()
           for item, text in enumerate(texts, start=1)}
# each scale's answers as compared (their words) -> score; a QIDS statement is one item's alone
ANSWERS: dict[str, dict[str, int]] = {
    "PHQ-9": _FREQUENCY,
    "PHQ-8": _FREQUENCY,
    "GAD-7": _FREQUENCY,
    "PCL-5": {"not at all": 0, "a little bit": 1, "moderately": 2, "quite a bit": 3, "extremely": 4},
    "QIDS-SR16": {_words(text): score for item in QIDS_ANSWERS for score, text in enumerate(item)},
}
_SHOWN_ANSWERS = 5  # answers of a scale named in a message


def _question_part(header: str) -> str:
    """The part of a grid header naming the row: in [brackets] after the stem (Google Forms),
    after the last ' - ' (Qualtrics) or ': ' ("GAD-7: Trouble relaxing"), else the whole header."""
    bracket = re.search(r"\[([^\]]+)\]\s*$", header)
    if bracket:
        return bracket.group(1)
    return re.split(r" - |:\s", header)[-1]


def _likeness(a: str, b: str) -> float:
    """difflib's ratio of two wordings, 0 when its cheap upper bounds already fall short."""
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < _CLOSE_ENOUGH or matcher.quick_ratio() < _CLOSE_ENOUGH:
        return 0.0
    return matcher.ratio()


def _closest(words: str, choices: Iterable[tuple[str, Any]]) -> Any:
    """The value of the wording of ``choices`` ((wording, value) pairs) that ``words`` is close
    enough to (another edition's wording), else None: never when a wording nearly as close (within
    0.05) has another value (QIDS' "2 pounds" and "5 pounds")."""
    scored = [(_likeness(words, wording), value) for wording, value in choices]
    best = max(scored, key=lambda pair: pair[0], default=(0.0, None))
    if best[0] < _CLOSE_ENOUGH:
        return None
    rivals = {value for likeness, value in scored if likeness >= best[0] - 0.05}
    return best[1] if len(rivals) == 1 else None


def question_item(header: object) -> tuple[str, int] | None:
    """(instrument, item number) of a column named by an item's wording, else None."""
    text = str(header)
    words = f" {_words(text)} "
    if len(words) < 10 or _DIFFICULTY in words:
        return None
    asked = re.sub(r"^\s*(?:q(?:uestion)?\s*)?\d{1,2}\s*[.):]\s*", "", _question_part(text), flags=re.I)
    part = _words(asked)
    # Short wordings (QIDS' "Energy level") must be the whole question, or the question before a
    # remark in brackets ("Decreased Weight (Within the Last Two Weeks):", as the QIDS prints it);
    # longer ones may sit in it.
    bare = _words(split_remark(asked.strip().rstrip(":?").strip())[0])
    contained = [(len(w), k) for k, w in _WORDED.items()
                 if (f" {w} " in words if w.count(" ") >= _SHORT_WORDS - 1 else w in (part, bare))]
    if contained:
        return max(contained)[1]
    return _closest(part, ((w, k) for k, w in _WORDED.items()))


def survey_columns(headers: Iterable[object], labels: dict[str, str] | None = None
                   ) -> tuple[dict[str, tuple[str, int]], list[str]]:
    """The columns read as items (header -> (instrument, item)), and the difficulty questions
    (not items). An item asked twice keeps its first column; an instrument with fewer than three
    items asked is not read (one column called "Energy level" is not a QIDS); the PHQ-9's items
    1-8 asked without item 9 are the PHQ-8. ``labels``: column -> variable label (an SPSS or Stata
    export's question text, its columns named Q1_1 ...), read when the name says nothing."""
    labels = labels or {}
    items: dict[str, tuple[str, int]] = {}
    difficulty = []
    for header in headers:
        found = question_item(header)
        text = labels.get(str(header)) if found is None else None
        if text:
            found = question_item(text)
        if found is not None and found not in items.values():
            items[str(header)] = found
        elif found is None and _DIFFICULTY in f" {_words(text or header)} ":
            difficulty.append(str(header))
    if {n for i, n in items.values() if i == "PHQ-9"} == set(range(1, 9)):
        # the PHQ-9's items 1-8 without item 9 (thoughts of death or self-harm): the PHQ-8
        items = {h: ("PHQ-8", n) if i == "PHQ-9" else (i, n) for h, (i, n) in items.items()}
    asked = pd.Series([instrument for instrument, _ in items.values()]).value_counts()
    enough = {i for i, n in asked.items() if n >= _FEWEST_ITEMS}
    return {h: v for h, v in items.items() if v[0] in enough}, difficulty


_LEADING_NUMBER = re.compile(r"^\s*(\d{1,2})\s*(?:[-=:.)]|\s)\s*(.*)$")  # '2 - More than half the days'


def _numbered(answer: str) -> tuple[str | None, str]:
    """(the number written with an answer, its words): '2 - More than half the days' and
    'Nearly every day (3)' (the number as a remark in brackets, vocabularies.split_remark)."""
    leading = _LEADING_NUMBER.match(answer)
    if leading:
        return leading.group(1), leading.group(2)
    words, remark = split_remark(answer)
    return (remark.strip(), words) if remark is not None and remark.strip().isdigit() else (None, answer)


def answer_scores(answers: Iterable[object], instrument: str) -> tuple[dict[str, str], list[str]]:
    """The answers as written -> their score (as text, for ``value_maps["score"]``), and what
    could not be read, in words. A number alone is left as it is (read as a score); a number with
    words that the scale scores otherwise is not guessed."""
    scale = ANSWERS.get(instrument, {})
    scores, unknown, conflicting = {}, [], []
    for answer in dict.fromkeys(str(a).strip() for a in answers if not pd.isna(a)):
        if not answer or re.fullmatch(r"-?\d+(?:\.\d+)?", answer):
            continue
        number, written = _numbered(answer)
        words = _words(written)
        said = scale.get(words)
        if said is None and words.count(" ") >= _SHORT_WORDS - 1:  # another edition's wording of a sentence
            said = _closest(words, scale.items())
        if number is not None and said is not None and int(number) != said:
            conflicting.append(f"{answer!r} (its number is not the score {instrument} gives {words!r}, {said})")
        elif number is not None:
            scores[answer] = str(int(number))
        elif said is not None:
            scores[answer] = str(said)
        else:
            unknown.append(repr(answer))
    unread = conflicting
    if unknown:
        known = ", ".join(f"{w[:1].upper()}{w[1:]} = {s}" for w, s in list(scale.items())[:_SHOWN_ANSWERS])
        if len(scale) > _SHOWN_ANSWERS:  # QIDS-SR16: four statements an item
            known += " ... (each item's own statements); or give them with their number, '2 - ...'"
        unread = [f"{', '.join(unknown[:6])}{' ...' if len(unknown) > 6 else ''} (not {instrument} answers: {known})",
                  *conflicting]
    return dict(sorted(scores.items(), key=lambda pair: int(pair[1]))), unread  # in the scale's order


# The survey tools' own columns on who answered, from where and when (Qualtrics, Google Forms,
# Microsoft Forms, SurveyMonkey, REDCap's labels export), compared by their words; the first of _ANSWERED_AT present
# times the answers, the others are dropped unread.
_ANSWERED_AT = ("end date", "enddate", "completion time", "timestamp", "survey timestamp", "recorded date", "recordeddate",
                "submitted at", "date submitted", "start time", "start date", "startdate")
_WHO_AND_WHERE = frozenset({"ipaddress", "ip address", "recipientlastname", "recipientfirstname", "recipientemail",
                            "recipient last name", "recipient first name", "recipient email", "locationlatitude",
                            "locationlongitude", "location latitude", "location longitude", "email address", "email",
                            "name", "first name", "last name", "respondent email", "last modified time",
                            "status", "response type"})


def bookkeeping(headers: Iterable[object]) -> tuple[str | None, list[str]]:
    """In a survey export: the column giving when the answers were given (None: none), and the
    tool's other bookkeeping columns, to drop unread (identifying, and not outcome data)."""
    by_words = {_words(h): str(h) for h in headers}
    answered = next((by_words[w] for w in map(_words, _ANSWERED_AT) if w in by_words), None)
    others = [h for w, h in by_words.items() if h != answered and (w in _WHO_AND_WHERE or w in map(_words, _ANSWERED_AT))]
    return answered, others


# Survey tools' numbers of a response (Microsoft Forms' ID, Qualtrics' ResponseId, SurveyMonkey's
# Respondent ID; as analysis.loading.vocabularies.key writes them): never a patient's id.
RESPONSE_NUMBERS = frozenset({"id", "responseid", "response_id", "respondent_id", "respondentid", "collector_id"})
# Qualtrics' Status of a response that no patient gave (as exported in words, and as codes).
NOT_ANSWERS = frozenset({"Survey Preview", "Survey Test", "Spam", "Preview Spam", "1", "2", "8", "9"})


def coded_answers(value_labels: dict[Any, str], instrument: str) -> dict[str, str] | None:
    """An SPSS or Stata column's codes -> scores through its value labels (1 = 'Not at all' -> '0'
    on the PHQ-9), or None when a label is not one of the scale's answers."""
    read, bad = answer_scores([str(label) for label in value_labels.values()], instrument)
    if bad or not read:
        return None
    return {_code_text(code): read[str(label).strip()] for code, label in value_labels.items()}


def _code_text(code: Any) -> str:
    """A value label's code as a value map writes it ('1' for the code 1.0)."""
    return f"{code:g}" if isinstance(code, float) else str(code)


def describe_survey(frame: pd.DataFrame, survey: dict[str, tuple[str, int]], difficulty: list[str],
                    value_labels: dict[str, dict[Any, str]] | None = None) -> tuple[str, list[str], dict[str, str]]:
    """For a mapping: the sentence saying which question columns (``survey``, from
    :func:`survey_columns`) were read as which items, what is doubtful in words (answers that
    could not be scored, answers coded from 1), and the answers' scores (``value_maps["score"]``).
    Columns with ``value_labels`` (SPSS, Stata) are scored by their labels: code -> score."""
    value_labels = value_labels or {}
    scores, unread, parts, doubts = {}, [], [], []
    for instrument in dict.fromkeys(v[0] for v in survey.values()):
        mine = [c for c, v in survey.items() if v[0] == instrument]
        items = sorted(survey[c][1] for c in mine)
        coded = [coded_answers(value_labels[c], instrument) if value_labels.get(c) else None for c in mine]
        if coded and all(coded) and all(c == coded[0] for c in coded) and \
                all(scores.get(k, v) == v for k, v in coded[0].items()):
            scores.update(coded[0])
            parts.append(f"{len(items)} column(s) read as {instrument} item(s) {_ranges(items)} by their question "
                         f"text (e.g. {_shortened(mine[0])!r}), answers coded by the file's value labels ("
                         + ", ".join(f"{_code_text(code)} {label!r} = {coded[0][_code_text(code)]}"
                                     for code, label in list(value_labels[mine[0]].items())[:4]) + ")")
            continue
        answers = pd.unique(pd.concat([frame[c] for c in mine]).dropna().astype(str).str.strip())
        read, bad = answer_scores(answers, instrument)
        scores.update(read)
        unread += bad
        codes = pd.to_numeric(pd.Series(answers), errors="coerce")
        top = get_instrument(instrument).item_max
        if len(answers) and codes.notna().all() and codes.min() >= 1 and codes.max() == top + 1:
            shifted = ", ".join(f"'{k}': '{k - 1}'" for k in range(1, int(top) + 2))
            doubts.append(f"the {instrument} answers are numbered 1-{int(top) + 1}, a survey tool's default coding, "
                          f"but {instrument} items score 0-{int(top)}: recode them in the tool, or give "
                          f"value_maps={{'score': {{{shifted}}}}}")
        parts.append(f"{len(items)} column(s) read as {instrument} item(s) {_ranges(items)} by their question "
                     f"text (e.g. {_shortened(mine[0])!r})")
    answered = ", ".join(f"{a!r} = {s}" for a, s in list(scores.items())[:5]) + (" ..." if len(scores) > 5 else "")
    sentence = "a survey export: " + "; ".join(parts) + (f"; answers scored by each scale: {answered}" if scores else "")
    if difficulty:
        sentence += (f"; {_shortened(difficulty[0])!r} is the questionnaire's closing question on difficulty, not an "
                     "item: kept as written")
    if unread:
        doubts.append(f"answer(s) {'; '.join(unread[:4])}{' ...' if len(unread) > 4 else ''} could not be scored: "
                      "give their scores with value_maps={'score': {answer: score}}")
    return sentence, doubts, scores


def _ranges(numbers: list[int]) -> str:
    """'1-9', '1-4, 6': runs of consecutive numbers."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def _shortened(text: str, size: int = 60) -> str:
    return text if len(text) <= size else text[:size - 3].rstrip() + "..."
