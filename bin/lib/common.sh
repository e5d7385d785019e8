# Shared by bin/isthmus and bin/test: find the repository and a JDK >= 25 without starting a JVM.
# (Parameter expansion instead of dirname/sed: every fork+exec here adds to the VMM's cold start.)
_isthmus_lib=${BASH_SOURCE[0]}
[[ $_isthmus_lib == */* ]] && _isthmus_lib=${_isthmus_lib%/*} || _isthmus_lib=.
# cd and back instead of $(cd ... && pwd): a subshell is a fork.
CDPATH= cd "$_isthmus_lib/../.." && ISTHMUS_ROOT=$PWD && CDPATH= cd "$OLDPWD"
ISTHMUS_MIN_JDK=25

# Sets JDK_FEATURE to the feature version of the JDK at $1 (from its release file), or to nothing. A variable,
# not output: reading output back would take a subshell per JDK.
jdk_feature() {
    local rel="$1/release" v
    JDK_FEATURE=
    [ -x "$1/bin/java" ] && [ -f "$rel" ] || return 0
    while IFS= read -r v; do
        if [[ $v =~ ^JAVA_VERSION=\"([0-9]+) ]]; then
            JDK_FEATURE=${BASH_REMATCH[1]}
            return 0
        fi
    done <"$rel"
}

# Sets JAVA_HOME to a JDK >= 25: $JAVA_HOME when it qualifies, else the newest under /usr/lib/jvm
# ($ISTHMUS_JVM_DIR overrides that directory, for tests of this very search).
find_jdk() {
    local best="" bestv=0 d v jvms=${ISTHMUS_JVM_DIR:-/usr/lib/jvm}
    if [ -n "${JAVA_HOME:-}" ]; then
        jdk_feature "$JAVA_HOME"; v=$JDK_FEATURE
        if [ -n "$v" ] && [ "$v" -ge "$ISTHMUS_MIN_JDK" ]; then
            export JAVA_HOME
            return 0
        fi
    fi
    for d in "$jvms"/*; do
        [ -d "$d" ] && [ ! -L "$d" ] || continue
        jdk_feature "$d"; v=$JDK_FEATURE
        if [ -n "$v" ] && [ "$v" -ge "$ISTHMUS_MIN_JDK" ] && [ "$v" -gt "$bestv" ]; then
            best=$d bestv=$v
        fi
    done
    if [ -z "$best" ]; then
        echo "isthmus: no JDK $ISTHMUS_MIN_JDK or newer found (JAVA_HOME=${JAVA_HOME:-unset}, nothing suitable in $jvms)." >&2
        echo "isthmus: install one, e.g. Eclipse Temurin's temurin-25-jdk package (it lands in /usr/lib/jvm/temurin-25-jdk-amd64)," >&2
        echo "isthmus: or point JAVA_HOME at a JDK 25 installation." >&2
        exit 1
    fi
    export JAVA_HOME=$best
}

# Maven itself runs on the JDK we found; silence its launcher's sun.misc.Unsafe warnings on JDK 24+.
maven() {
    MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow" mvn "$@"
}

# Installs the Debian packages named in "$@" that are missing, as root (apt-get); otherwise names the command to run
# and exits 1. $PACKAGES_FOR says what they are for, in messages.
ensure_packages() {
    local p missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    if [ "$(id -u)" -eq 0 ]; then
        echo "isthmus: installing ${missing[*]} (${PACKAGES_FOR:-needed})" >&2
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    else
        echo "isthmus: missing Debian packages (${PACKAGES_FOR:-needed}): ${missing[*]}" >&2
        echo "isthmus: install them with: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
}

# What the lab guest is made of on this host (see io.isthmus.lab.LabImage): QEMU, busybox-static and cpio for the
# guest, GNU time, util-linux (setpriv), fontconfig and a font (for charts drawn there) that it carries; its kernel
# package is downloaded, not installed.
LAB_PACKAGES=(qemu-system-x86 busybox-static cpio time util-linux fontconfig fonts-dejavu-core)
