from django.shortcuts import render


def home(request):
    template = "front/home.html" if request.user.is_authenticated else "front/welcome.html"
    return render(request, template)
