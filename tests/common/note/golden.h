// Golden vectors shared by the note tests and the note fuzz target.
//
// Provenance:
//  - kPeter*, kEnoch*, kNeumannText: the package documentation of golang.org/x/mod/sumdb/note
//    (sumdb/note/note.go, "Example") and its tests (sumdb/note/note_test.go, TestSign, TestOpen,
//    TestVerifierList), https://go.googlesource.com/mod. The Enoch signer key is not published;
//    only its verifier key and signature are.
//  - kSumGolangOrgKey: the verifier key of sum.golang.org built into the go command (the default
//    GOSUMDB), as quoted in many public repositories.
//  - kSumGolangOrgNote*: signed tree heads served by https://sum.golang.org, quoted verbatim in
//    public write-ups (a transparency-log comparison blog post, and a Rust test suite's
//    "upstream signed note" vector). They are real signatures made by Go's own signer.
#pragma once

namespace probity::note::golden {

inline constexpr char kPeterSignerKey[] =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
inline constexpr char kPeterVerifierKey[] =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
inline constexpr char kEnochVerifierKey[] =
    "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";

inline constexpr char kNeumannText[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
inline constexpr char kPeterSigBase64[] =
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=";
inline constexpr char kPeterSigLine[] =
    "\xE2\x80\x94 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
inline constexpr char kEnochSigBase64[] =
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=";
inline constexpr char kEnochSigLine[] =
    "\xE2\x80\x94 EnochRoot "
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

inline constexpr char kSumGolangOrgKey[] =
    "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
inline constexpr char kSumGolangOrgNote1[] =
    "go.sum database tree\n"
    "15368405\n"
    "/g9am3I6YWNKaZX/jkne1fqd9zEyjss+JXyPXG0WfkY=\n"
    "\n"
    "\xE2\x80\x94 sum.golang.org "
    "Az3grqJGUaSGukG9p8nI2vKgiFn7qGHxn0W+mrwyI6Gz3F0t1J3LzmWk/p96Ybf295EjwdSwlzgijq5WA9d1Ded7owM=\n";
inline constexpr char kSumGolangOrgNote2[] =
    "go.sum database tree\n"
    "63512409\n"
    "F7eHRPqN/cqPtqti14NKdGGaI1Giw8coWP3KxihFZbg=\n"
    "\n"
    "\xE2\x80\x94 sum.golang.org "
    "Az3gri1OBHKT87Xj8UXU8zjoHGy/X+7Nl94f8TZkELVaasolmGApUsWqwVG9vE6hgqYb/ph/w2vdkLIVRH7bMB/FPQ4=\n";

}  // namespace probity::note::golden
