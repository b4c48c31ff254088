"""The retrieval set for tests/documents/test_recall.py: paraphrased questions over `pydoc` output of
standard-library modules, each with the module and the entry (function, class or method) that answers it.

Written to avoid the key words of the answering docstring. Two halves:
- DEV: the questions any tuning may look at. The first 28 are the set an earlier weight was tuned on.
- HELD_OUT: written together with the DEV questions after "# new", before any of them was measured, and
  never used to choose anything; the test reports and asserts on this half.
"""

from __future__ import annotations

MODULES = [
    "json", "csv", "shutil", "textwrap", "heapq", "bisect", "secrets", "statistics", "fractions", "gzip",
    "tempfile", "glob", "fnmatch", "zipfile", "string", "functools", "math", "hashlib", "base64", "copy",
    "shlex", "filecmp", "zlib", "html", "os.path", "getpass", "colorsys", "graphlib", "uuid",
]  # fmt: skip

Question = tuple[str, str, str]  # (question, module, the entry that answers it)

_OLD: list[Question] = [
    ("How do I convert a Python object to a JSON string?", "json", "dumps"),
    ("Parse JSON text that is stored in a file object", "json", "load"),
    ("Read a CSV file so that each row comes back as a dictionary keyed by the column names", "csv", "DictReader"),
    ("How do I write rows of data to a CSV file?", "csv", "writer"),
    ("Copy a directory together with all of its files and subdirectories", "shutil", "copytree"),
    ("Delete a directory together with all of its contents", "shutil", "rmtree"),
    ("Relocate a file or folder to somewhere else on disk", "shutil", "move"),
    ("How can I check how much free space a disk has?", "shutil", "disk_usage"),
    ("Locate the full path of a program that can be run from the command line", "shutil", "which"),
    ("Find out how many columns and lines the console window has", "shutil", "get_terminal_size"),
    ("Break a long paragraph into lines no wider than a given number of characters", "textwrap", "wrap"),
    ("Strip the indentation that every line of a block of text shares", "textwrap", "dedent"),
    ("Efficiently get the few lowest elements of a big collection", "heapq", "nsmallest"),
    ("Combine several already ordered inputs into one ordered stream", "heapq", "merge"),
    ("Put a new item into a list that is kept in order without sorting again", "bisect", "insort"),
    ("Create a hard to guess token that is safe to put in a web address", "secrets", "token_urlsafe"),
    ("Pick a random whole number below a limit, suitable for security purposes", "secrets", "randbelow"),
    ("The middle value of a set of numbers", "statistics", "median"),
    ("How spread out is a sample of data around its average?", "statistics", "stdev"),
    ("Which value appears most often in the data?", "statistics", "mode"),
    ("Represent a ratio exactly as a numerator and a denominator", "fractions", "Fraction"),
    ("Shrink bytes with the same algorithm the gzip program uses", "gzip", "compress"),
    ("A scratch file that disappears as soon as it is closed", "tempfile", "TemporaryFile"),
    ("Make a throwaway folder that is cleaned up automatically", "tempfile", "TemporaryDirectory"),
    ("List every path that matches a pattern with wildcards such as *.txt", "glob", "glob"),
    ("Test whether a file name matches a shell style pattern", "fnmatch", "fnmatch"),
    ("Get the names of the files stored inside an archive", "zipfile", "namelist"),
    ("Unpack every member of an archive into a folder", "zipfile", "extractall"),
]

# new
_NEW: list[Question] = [
    ("Which exception tells me where in the input the malformed text was found?", "json", "JSONDecodeError"),
    ("Emit the members of each object in alphabetical order when serializing", "json", "dumps"),
    ("Work out automatically which character separates the fields in a spreadsheet export", "csv", "Sniffer"),
    ("Save a list of dictionaries as a comma-separated file, one column per key", "csv", "DictWriter"),
    ("Bundle a whole folder into a single .tar.gz file in one call", "shutil", "make_archive"),
    ("Duplicate a file's contents along with its permission bits and timestamps", "shutil", "copy2"),
    ("Give a file to a different account and group", "shutil", "chown"),
    ("Cut a sentence down to fit a width, ending with a marker such as [...]", "textwrap", "shorten"),
    ("Quote every line of an e-mail reply by putting '> ' in front of it", "textwrap", "indent"),
    ("Remove the entry with the lowest priority from a priority queue kept in a list", "heapq", "heappop"),
    ("Rearrange an arbitrary list in place so that it can serve as a priority queue", "heapq", "heapify"),
    (
        "Where would a value go in an ordered list if it must come after any entries equal to it?",
        "bisect",
        "bisect_right",
    ),
    ("A random string of the digits 0-9 and the letters a-f for a password reset link", "secrets", "token_hex"),
    (
        "Check whether two passwords are equal in a way an attacker cannot measure by how long it takes",
        "secrets",
        "compare_digest",
    ),
    (
        "The typical value of numbers that multiply together, such as yearly growth rates",
        "statistics",
        "geometric_mean",
    ),
    ("How strongly do two series of numbers move together?", "statistics", "correlation"),
    ("Fit a straight line through paired data points", "statistics", "linear_regression"),
    ("Find the closest ratio of small integers to a float such as 3.14159", "fractions", "limit_denominator"),
    ("Turn a compressed .gz payload held in memory back into the original bytes", "gzip", "decompress"),
    ("Create a uniquely named folder for temporary work that I will delete myself", "tempfile", "mkdtemp"),
    ("A temporary file that other programs can open by its path", "tempfile", "NamedTemporaryFile"),
    ("Walk folders for names that fit a wildcard one at a time, without building a list", "glob", "iglob"),
    ("Make a path containing brackets or asterisks safe to use literally in a wildcard search", "glob", "escape"),
    ("Keep only the names from a list that fit a wildcard such as *.py", "fnmatch", "filter"),
    ("Convert a *.txt style pattern into an equivalent re pattern string", "fnmatch", "translate"),
    ("Check an archive for corrupted members by reading them all", "zipfile", "testzip"),
    ("Tell whether a file on disk is a valid archive of that format", "zipfile", "is_zipfile"),
    ("Fill in placeholders written with a dollar sign", "string", "Template"),
    ("Uppercase the first letter of each word in a sentence", "string", "capwords"),
    ("Remember the results of an expensive function so repeated calls are fast", "functools", "lru_cache"),
    ("Fix some arguments of a function to get a new callable that needs fewer", "functools", "partial"),
    ("Get <=, > and >= for free on a class that defines __lt__ and __eq__", "functools", "total_ordering"),
    ("Overload one function with separate implementations per argument class", "functools", "singledispatch"),
    (
        "Combine all the items of a list into a single result, e.g. multiply them all, left to right",
        "functools",
        "reduce",
    ),
    ("How many different poker hands of 5 can be drawn from 52 cards?", "math", "comb"),
    ("Compare two floating point results allowing a small tolerance for rounding error", "math", "isclose"),
    ("Largest whole number that divides both of two integers", "math", "gcd"),
    ("Length of the straight line between two points in space", "math", "dist"),
    ("Derive a key from a password by hashing many iterations with a salt", "hashlib", "pbkdf2_hmac"),
    ("Compute the SHA-256 of an open file object efficiently", "hashlib", "file_digest"),
    ("Encode binary data for a URL, with - and _ in place of + and /", "base64", "urlsafe_b64encode"),
    ("Turn text in the 64-character ASCII alphabet back into raw bytes", "base64", "b64decode"),
    ("Duplicate an object including every nested list and dict inside it", "copy", "deepcopy"),
    ("Break a command line into arguments the way a Unix shell would, honouring quotes", "shlex", "split"),
    ("Make a file name with spaces safe to paste into a terminal command", "shlex", "quote"),
    ("Find which entries differ between two folders", "filecmp", "dircmp"),
    ("A checksum of data that is quicker to compute than CRC32 but weaker", "zlib", "adler32"),
    ("Compress a stream piece by piece instead of all at once", "zlib", "compressobj"),
    ("Convert characters like < and & so a string can be shown safely in a web page", "html", "escape"),
    ("Turn &amp; and &#39; in scraped text back into normal characters", "html", "unescape"),
    ("Separate report.pdf into report and .pdf", "os.path", "splitext"),
    ("Where does a link on Linux really point to, with every link along the way resolved?", "os.path", "realpath"),
    ("Replace ~ with the user's home folder in a path", "os.path", "expanduser"),
    ("Ask for a password at the terminal without showing what is typed", "getpass", "getpass"),
    ("Find the login name of the person running the program", "getpass", "getuser"),
    ("Convert a red-green-blue colour to hue, saturation and value", "colorsys", "rgb_to_hsv"),
    ("Order tasks so that each comes after the tasks it depends on", "graphlib", "TopologicalSorter"),
    ("What error is raised when dependencies form a loop?", "graphlib", "CycleError"),
    ("Make a random 128-bit identifier for a database row", "uuid", "uuid4"),
    ("The MAC of this computer as an integer", "uuid", "getnode"),
]

# Every third new question joins the tuning half; the rest are held out.
DEV: list[Question] = _OLD + _NEW[::3]
HELD_OUT: list[Question] = [q for i, q in enumerate(_NEW) if i % 3]
